"""Importing camera media: one pass, never altered, a time and a place with their sources, custody signed."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import piexif
import pytest

from device_gateway.gps import Fix, GnssTrack
from device_gateway.identity import gateway_key
from device_gateway.media.derived import after_import
from device_gateway.media.importer import FileResult, ImportOptions, ImportReport, import_media
from device_gateway.spool import Spool
from evidence.custody import CustodyEvent, verify_chain, verify_event_signature
from evidence.metadata.filenames import default_patterns
from tests.device_gateway.media_samples import camera_naive, jpeg, mp4

CHINA = ZoneInfo("Asia/Shanghai")
SITE = datetime(2026, 5, 12, 9, 41, 7, 250000, tzinfo=CHINA)


@dataclass
class Imported:
    report: ImportReport
    copies: list[FileResult]
    spool: Spool

    def by_name(self) -> dict[str, FileResult]:
        return {Path(r.path).name: r for r in [*self.report.results, *self.copies]}


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "data") as opened:
        yield opened


def run_import(spool: Spool, *paths: Path, track: GnssTrack | None = None, **options: Any) -> Imported:
    settings = ImportOptions(zone=options.pop("zone", CHINA), patterns=default_patterns(), **options)
    key = gateway_key(spool.root)
    report = import_media(list(paths), spool=spool, key=key, options=settings, track=track)
    copies = after_import(report, spool=spool, key=key, options=settings, now=datetime.now(UTC))
    return Imported(report, copies, spool)


def expected_degrees(raw: Any, ref: bytes) -> float:
    value = sum(n / d / 60**i for i, (n, d) in enumerate(raw))
    return -value if ref in (b"S", b"W") else value


def test_every_public_gps_photo_keeps_its_exif_position_and_gnss_time(spool: Spool, testdata: Path) -> None:
    folder = testdata / "exif" / "gps"
    results = run_import(spool, folder).by_name()
    assert len(results) == len(list(folder.glob("*.jpg")))
    for photo in sorted(folder.glob("*.jpg")):
        gps = piexif.load(str(photo))["GPS"]
        result = results[photo.name]
        assert result.status == "imported"
        assert result.location is not None
        assert result.location["source"] == "exif-gps"
        assert abs(result.location["lat"] - expected_degrees(gps[2], gps[1])) < 1e-6
        assert abs(result.location["lon"] - expected_degrees(gps[4], gps[3])) < 1e-6
        assert result.time_source == "gnss"


def test_broken_files_each_get_a_result(spool: Spool, testdata: Path) -> None:
    broken = [*sorted((testdata / "exif" / "invalid").glob("*.jpg")), testdata / "exif" / "corrupted.jpg"]
    results = run_import(spool, *broken).report.results
    assert [Path(r.path).name for r in results] == [p.name for p in broken]
    assert all(r.status == "imported" for r in results), "broken metadata never stops an import"
    assert all(r.time_source in ("camera-clock", "file-mtime") for r in results)


def test_southern_western_hemispheres_and_fractional_gnss_seconds(spool: Spool, tmp_path: Path) -> None:
    gnss = datetime(2026, 5, 12, 1, 41, 7, 250000, tzinfo=UTC)
    photo = jpeg(tmp_path / "santiago.jpg", gps=(-33.448890, -70.669265, 570.0), gps_time=gnss)
    result = run_import(spool, photo).by_name()["santiago.jpg"]
    assert result.location is not None
    assert abs(result.location["lat"] + 33.448890) < 1e-6
    assert abs(result.location["lon"] + 70.669265) < 1e-6
    assert result.time_source == "gnss"
    assert result.captured_at is not None
    assert datetime.fromisoformat(result.captured_at) == gnss


@pytest.mark.parametrize(
    ("offset", "zone", "expected_utc_hour"),
    [("+08:00", "UTC", 1), (None, "Asia/Shanghai", 1), (None, "UTC", 9), ("-03:00", "Asia/Shanghai", 12)],
)
def test_camera_time_is_read_in_its_own_offset_else_the_configured_zone(
    spool: Spool, tmp_path: Path, offset: str | None, zone: str, expected_utc_hour: int
) -> None:
    photo = jpeg(tmp_path / "p.jpg", camera_time=SITE.replace(tzinfo=None), offset=offset)
    result = run_import(spool, photo, zone=ZoneInfo(zone)).by_name()["p.jpg"]
    assert result.time_source == "camera-clock"
    assert result.captured_at is not None
    assert datetime.fromisoformat(result.captured_at).astimezone(UTC).hour == expected_utc_hour


def test_a_camera_clock_7_minutes_fast_is_measured_and_corrected(spool: Spool, tmp_path: Path) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    for n in range(2):
        moment = SITE + timedelta(minutes=n)
        jpeg(
            folder / f"gps{n}.jpg",
            camera_time=camera_naive(moment, 7),
            gps=(34.6, 112.4, None),
            gps_time=moment.astimezone(UTC),
            seed=n,
        )
    later = SITE + timedelta(minutes=10)
    jpeg(folder / "nogps.jpg", camera_time=camera_naive(later, 7), seed=9)
    imported = run_import(spool, folder)
    offset = imported.report.offsets["Hikvision DSJ000123"]
    assert round(offset.offset_s) == 420
    assert offset.drifting
    corrected = imported.by_name()["nogps.jpg"]
    assert corrected.time_source == "camera-clock-corrected"
    assert corrected.clock_offset_s is not None
    assert round(corrected.clock_offset_s) == 420
    assert corrected.captured_at is not None
    assert abs((datetime.fromisoformat(corrected.captured_at) - later).total_seconds()) < 0.01
    assert any(flag.startswith("clock-drift") for flag in corrected.flags)
    notes = spool.connection.execute("SELECT kind FROM visit_notes").fetchall()
    assert notes == [("clock-drift",)]


def test_a_video_takes_its_time_from_mvhd_and_its_place_from_the_location_atom(spool: Spool, tmp_path: Path) -> None:
    clip = mp4(
        tmp_path / "clip.mp4", created=SITE.replace(tzinfo=None, microsecond=0), location="+34.6197+112.4540+141.000/"
    )
    result = run_import(spool, clip).by_name()["clip.mp4"]
    assert (result.kind, result.time_source) == ("video", "camera-clock")
    assert result.captured_at is not None
    assert datetime.fromisoformat(result.captured_at) == SITE.replace(microsecond=0)
    assert result.location is not None
    assert (result.location["source"], result.location["lat"]) == ("device-gnss", 34.6197)


def test_a_file_changed_during_import_is_rejected_and_nothing_kept(spool: Spool, tmp_path: Path) -> None:
    target = tmp_path / "growing.mp4"
    target.write_bytes(bytes(3 * 1024 * 1024))

    def append(_count: int) -> None:
        with open(target, "ab") as stream:
            stream.write(b"more")

    options = ImportOptions(zone=CHINA, patterns=default_patterns())
    report = import_media(
        [target], spool=spool, key=gateway_key(spool.root), options=options, track=None, progress=append
    )
    assert [(r.status, (r.reason or "").startswith("changed or vanished")) for r in report.results] == [
        ("rejected", True)
    ]
    assert spool.connection.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0


def test_chinese_names_read_only_folders_symlinks_and_a_second_import(spool: Spool, tmp_path: Path) -> None:
    card = tmp_path / "DCIM"
    card.mkdir()
    photo = jpeg(card / "执法记录仪_现场取证.jpg", camera_time=SITE.replace(tzinfo=None), offset="+08:00")
    (card / "link.jpg").symlink_to(photo)
    (card / "readme.txt").write_text("not media")
    before = (photo.read_bytes(), photo.stat().st_mtime_ns)
    for path in (photo, card):
        path.chmod(stat.S_IRUSR | stat.S_IXUSR | (0 if path.is_file() else stat.S_IRGRP))
    try:
        first = run_import(spool, card).by_name()
        second = run_import(spool, card).by_name()
    finally:
        card.chmod(0o755)
        photo.chmod(0o644)
    assert first["执法记录仪_现场取证.jpg"].status == "imported"
    assert (first["link.jpg"].status, "symbolic link" in (first["link.jpg"].reason or "")) == ("rejected", True)
    assert first["readme.txt"].status == "rejected"
    assert second["执法记录仪_现场取证.jpg"].status == "duplicate"
    assert second["执法记录仪_现场取证.jpg"].item_id == first["执法记录仪_现场取证.jpg"].item_id
    assert spool.connection.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1
    assert (photo.read_bytes(), photo.stat().st_mtime_ns) == before, "the original is never modified"


def test_gaps_in_a_cameras_file_numbers_are_reported_and_noted_once(spool: Spool, tmp_path: Path) -> None:
    card = tmp_path / "DCIM"
    card.mkdir()
    for number in (1, 2, 5, 9):
        jpeg(card / f"DSCN{number:04d}.jpg", seed=number)
    first = run_import(spool, card, device="NIKON-1")
    run_import(spool, card, device="NIKON-1")
    assert first.report.gaps == {"NIKON-1": [(3, 4), (6, 8)]}
    notes = spool.connection.execute("SELECT device, kind, detail FROM visit_notes").fetchall()
    assert notes == [("NIKON-1", "sequence-gap", '{"missing":[[3,4],[6,8]]}')]


def test_the_gateways_own_data_folder_is_never_imported(spool: Spool) -> None:
    spool.blobs.put_bytes(b"\xff\xd8\xff not a new photo")
    results = run_import(spool, spool.root).report.results
    assert [(r.status, r.reason) for r in results] == [
        ("rejected", "inside the gateway's own data folder: not imported")
    ]


def test_custody_events_are_the_cameras_claims_then_the_gateways_facts(spool: Spool, tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "p.jpg", camera_time=SITE.replace(tzinfo=None), offset="+08:00")
    result = run_import(spool, photo).by_name()["p.jpg"]
    key = gateway_key(spool.root)
    rows = spool.connection.execute("SELECT event FROM events WHERE item_id = ? ORDER BY seq", (result.item_id,))
    events = [CustodyEvent.from_bytes(row[0]) for row in rows]
    verify_chain(events)
    for event in events:
        verify_event_signature(event, {key.key_id: key.public})
    acquired, imported = events
    assert acquired.actor["device"] == "Hikvision DSJ000123"
    assert acquired.details["name"] == "p.jpg"
    assert acquired.details["camera_time"] == SITE.replace(microsecond=250000).isoformat()
    assert imported.actor["device"] == key.name
    assert imported.details["source_path"] == str(photo)
    assert imported.details["size"] == photo.stat().st_size


def test_the_gateway_track_places_a_photo_and_a_geotagged_copy_is_linked(spool: Spool, tmp_path: Path) -> None:
    card = tmp_path / "card"
    card.mkdir()
    jpeg(card / "with-gps.jpg", camera_time=camera_naive(SITE), gps=(34.0, 112.0, None), gps_time=SITE.astimezone(UTC))
    later = SITE + timedelta(seconds=30)
    jpeg(card / "no-gps.jpg", camera_time=camera_naive(later), seed=4)
    track = GnssTrack()
    for second in (0, 20, 40, 60):
        at = (SITE + timedelta(seconds=second)).astimezone(UTC)
        track.add(Fix(at, 34.6 + second * 1e-5, 112.45, 140.0, 1, 10, 0.9, "gateway-gnss-track"))
    imported = run_import(spool, card, track=track, geotag_copies=True)
    results = imported.by_name()
    placed = results["no-gps.jpg"]
    assert placed.location is not None
    assert placed.location["source"] == "gateway-gnss-track"
    assert abs(placed.location["lat"] - (34.6 + 30e-5)) < 1e-7, "interpolated between the fixes around it"
    copy = results["no-gps_geotagged.jpg"]
    assert copy.derived_from == placed.item_id
    original_bytes = (card / "no-gps.jpg").read_bytes()
    copy_bytes = spool.blobs.path_for(copy.sha256 or "").read_bytes()
    assert original_bytes[original_bytes.index(b"\xff\xda") :] == copy_bytes[copy_bytes.index(b"\xff\xda") :]
    assert piexif.load(copy_bytes)["GPS"][piexif.GPSIFD.GPSLatitudeRef] == b"N"
    link = spool.connection.execute("SELECT derived_from FROM derivations WHERE item_id = ?", (copy.item_id,))
    assert link.fetchone() == (placed.item_id,)
    actions = spool.connection.execute("SELECT seq FROM events WHERE item_id = ?", (placed.item_id,)).fetchall()
    assert len(actions) == 3, "acquired, imported, derived"
    assert (spool.root / "thumbnails" / f"{placed.item_id}.jpg").is_file()


def _peak_rss_kib_importing(path: Path, data: Path) -> int:
    """Peak resident memory of a fresh process running ``fieldproof gateway import-media`` on one file."""
    script = (
        "import resource, sys; from fieldproof.cli import main; "
        "status = main(['gateway', 'import-media', sys.argv[1], '--data', sys.argv[2], '--json']); "
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), str(data)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return int(done.stderr.split("PEAK")[1].split()[0])


@pytest.mark.slow
def test_a_4_gib_sparse_file_imports_in_bounded_memory(tmp_path: Path) -> None:
    header = b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41"
    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    small.write_bytes(header + bytes(1024))
    with open(big, "wb") as stream:
        stream.write(header)
        stream.truncate(4 * 1024**3)
    baseline = _peak_rss_kib_importing(small, tmp_path / "data-small")
    peak = _peak_rss_kib_importing(big, tmp_path / "data")
    assert peak - baseline < 64 * 1024, f"importing 4 GiB took {peak - baseline} KiB more than 1 KiB did"
    with sqlite3.connect(tmp_path / "data" / "spool.sqlite3") as db:
        assert db.execute("SELECT size FROM items").fetchone() == (4 * 1024**3,)
    os.remove(big)
