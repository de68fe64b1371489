"""`fieldproof gateway import-media`: JSON lines, exit statuses, clear refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.device_gateway.media_samples import jpeg
from tests.fieldproof.conftest import CliResult

Cli = Callable[..., CliResult]
KEYS = {
    "path",
    "status",
    "reason",
    "sha256",
    "size",
    "kind",
    "media_type",
    "captured_at",
    "time_source",
    "clock_offset_s",
    "location",
    "device",
    "item_id",
    "flags",
}


def card(tmp_path: Path) -> Path:
    folder = tmp_path / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    moment = datetime(2026, 5, 12, 1, 41, 7, tzinfo=UTC)
    jpeg(folder / "DSCN0001.jpg", gps=(34.6197, 112.454, 141.0), gps_time=moment, seed=1)
    jpeg(folder / "DSCN0003.jpg", camera_time=datetime(2026, 5, 12, 9, 45), seed=3)
    (folder / "INDEX.DAT").write_bytes(b"\x00camera index")
    return tmp_path / "DCIM"


def lines(result: CliResult) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_json_lines_describe_every_file_and_a_rejection_sets_the_exit_status(cli: Cli, tmp_path: Path) -> None:
    result = cli("gateway", "import-media", card(tmp_path), "--data", tmp_path / "data", "--json")
    files = {Path(str(line["path"])).name: line for line in lines(result)}
    assert result.status == 1, "INDEX.DAT is not media: rejected, and the exit status says so"
    assert all(set(line) == KEYS for line in files.values())
    assert files["INDEX.DAT"]["status"] == "rejected"
    assert files["DSCN0001.jpg"]["time_source"] == "gnss"
    assert files["DSCN0001.jpg"]["location"]["source"] == "exif-gps"  # type: ignore[index]
    assert files["DSCN0003.jpg"]["captured_at"] == "2026-05-12T09:45:00+08:00"


def test_a_second_import_of_the_same_card_is_all_duplicates(cli: Cli, tmp_path: Path) -> None:
    folder = card(tmp_path)
    (folder / "100MEDIA" / "INDEX.DAT").unlink()
    first = cli("gateway", "import-media", folder, "--data", tmp_path / "data", "--json")
    second = cli("gateway", "import-media", folder, "--data", tmp_path / "data", "--json")
    assert (first.status, second.status) == (0, 0)
    assert {line["status"] for line in lines(second)} == {"duplicate"}
    assert [line["item_id"] for line in lines(first)] == [line["item_id"] for line in lines(second)]


def test_the_summary_reports_a_gap_in_the_cameras_file_numbers(cli: Cli, tmp_path: Path) -> None:
    result = cli("gateway", "import-media", card(tmp_path), "--data", tmp_path / "data", "--device", "DSJ-1")
    assert "sequence gap" in result.stdout
    assert "DSJ-1: missing 2" in result.stdout


def test_bad_usage_is_refused_clearly(cli: Cli, tmp_path: Path) -> None:
    missing = cli("gateway", "import-media", tmp_path / "nope", "--data", tmp_path / "data")
    assert (missing.status, "no such file or folder" in missing.stderr) == (2, True)
    bad_zone = cli("gateway", "import-media", tmp_path, "--data", tmp_path / "data", "--tz", "Mars/Olympus")
    assert (bad_zone.status, "unknown time zone" in bad_zone.stderr) == (2, True)
