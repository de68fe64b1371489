"""The `fieldproof` command's interface: keygen, seal, verify output shapes, exit statuses, and the demo."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from evidence.keys import load_public_key, load_signing_key
from tests.fieldproof.conftest import CliResult, Sealed

Cli = Callable[..., CliResult]


def test_keygen_writes_a_private_key_0600_and_prints_the_key_id(cli: Cli, tmp_path: Path) -> None:
    result = cli("keygen", "--out", tmp_path / "officer.key")
    assert result.status == 0
    private = load_signing_key(tmp_path / "officer.key")
    public = load_public_key(tmp_path / "officer.key.pub")
    assert result.stdout.strip() == private.key_id == public.key_id
    assert stat.S_IMODE((tmp_path / "officer.key").stat().st_mode) == 0o600
    assert public.name == "officer"


def test_keygen_refuses_to_overwrite_and_leaves_the_key_alone(cli: Cli, tmp_path: Path) -> None:
    assert cli("keygen", "--out", tmp_path / "k").status == 0
    before = (tmp_path / "k").read_bytes()
    result = cli("keygen", "--out", tmp_path / "k")
    assert result.status == 2
    assert "refusing to overwrite" in result.stderr
    assert (tmp_path / "k").read_bytes() == before


def test_keygen_json_and_witness_key(cli: Cli, tmp_path: Path) -> None:
    result = cli("keygen", "--out", tmp_path / "w.key", "--name", "court-witness", "--witness", "--json")
    assert result.status == 0
    answer = result.json()
    assert set(answer) == {"key_id", "name", "private_key", "public_key", "verifier_key"}
    assert answer["name"] == "court-witness"
    assert load_public_key(Path(answer["public_key"])).key_type == 0x04


def test_seal_json_describes_every_item(cli: Cli, tmp_path: Path) -> None:
    cli("keygen", "--out", tmp_path / "k")
    files = []
    for name, text in (("a.txt", "first"), ("b.csv", "x,y\n1,2\n")):
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
    result = cli("seal", "--key", tmp_path / "k", "--out", tmp_path / "p.zip", "--json", *files)
    assert result.status == 0
    answer = result.json()
    assert answer["package"] == str(tmp_path / "p.zip")
    assert [item["name"] for item in answer["items"]] == ["a.txt", "b.csv"]
    assert answer["items"][0]["sha256"] == "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"
    assert answer["events"] == 4
    assert answer["checkpoint"]["size"] == 4
    assert cli("verify", tmp_path / "p.zip", "--trust", tmp_path / "k.pub").status == 0


def test_seal_never_modifies_the_originals(cli: Cli, tmp_path: Path) -> None:
    cli("keygen", "--out", tmp_path / "k")
    original = tmp_path / "evidence.bin"
    original.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    before = (original.read_bytes(), original.stat().st_mtime_ns)
    assert cli("seal", "--key", tmp_path / "k", "--out", tmp_path / "p", original).status == 0
    assert (original.read_bytes(), original.stat().st_mtime_ns) == before


def test_seal_with_a_missing_file_fails_cleanly_and_leaves_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("keygen", "--out", tmp_path / "k")
    result = cli("seal", "--key", tmp_path / "k", "--out", tmp_path / "p", tmp_path / "nope.jpg")
    assert result.status == 2
    assert "nope.jpg" in result.stderr
    assert not (tmp_path / "p").exists()
    assert not list(tmp_path.glob(".p.*"))


def test_verify_text_report_is_bilingual_and_names_the_failed_check(cli: Cli, sealed: Sealed) -> None:
    next((sealed.package / "data").glob("*/*.csv")).write_text("time,code,value\n")
    result = cli("verify", sealed.package, "--trust", sealed.public_key)
    assert result.status == 1
    assert "证据项与文件 items and files: ✗ 失败 FAILED" in result.stdout
    assert "完整性校验失败 INTEGRITY FAILURE" in result.stdout


def test_verify_without_trust_reports_intact_but_untrusted(cli: Cli, sealed: Sealed) -> None:
    result = cli("verify", sealed.package)
    assert result.status == 3
    assert "INTACT but NOT TRUSTED" in result.stdout


def test_verify_with_a_broken_trust_file_is_a_usage_error(cli: Cli, sealed: Sealed, tmp_path: Path) -> None:
    (tmp_path / "bad.pub").write_text("not a key\n")
    result = cli("verify", sealed.package, "--trust", tmp_path / "bad.pub")
    assert result.status == 2
    assert "malformed verifier key" in result.stderr


def test_the_installed_command_runs_the_demo_to_its_end(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("fieldproof")
    done = subprocess.run(
        [command, "demo", "--workdir", tmp_path / "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "演示完成 Demo complete" in done.stdout
    assert "INTEGRITY FAILURE" in done.stdout
    assert (tmp_path / "demo" / "package" / "report.html").is_file()


def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("fieldproof")
    done = subprocess.run([command, "seal", "--out", tmp_path / "p"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--key" in done.stderr
    assert "Traceback" not in done.stderr
