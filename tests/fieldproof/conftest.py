"""Fixtures for command-level tests: a signing key, a sealed package, and running the CLI in-process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evidence.keys import generate_key, write_key_pair
from evidence.seal import seal_files
from fieldproof.cli import main


@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    return run


@dataclass
class Sealed:
    package: Path
    public_key: Path
    private_key: Path
    package_id: str


@pytest.fixture
def sealed(tmp_path: Path, testdata: Path) -> Sealed:
    """A package of three items (a real EXIF photo, a CSV, a Chinese note) sealed by a fresh key."""
    sources = tmp_path / "sources"
    sources.mkdir()
    photo = sources / "DSCN0010.jpg"
    shutil.copyfile(testdata / "exif" / "gps" / "DSCN0010.jpg", photo)
    readings = sources / "readings.csv"
    readings.write_text("time,code,value\n2026-05-12T09:41:07+08:00,a34004,57\n", encoding="utf-8")
    note = sources / "现场笔记.txt"
    note.write_text("检察人员二人现场勘查。\n", encoding="utf-8")
    key = generate_key("test-officer")
    public = write_key_pair(key, tmp_path / "officer.key")
    result = seal_files([photo, readings, note], key=key, out=tmp_path / "package", user="investigator-1")
    return Sealed(result.path, public, tmp_path / "officer.key", result.package_id)


def failed_steps(report: dict[str, Any]) -> dict[str, str]:
    return {check["step"]: check["detail"] for check in report["checks"] if not check["ok"]}
