"""Shared fixtures: where the public sample data lives, and small helpers every test suite uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _find_shared_dir() -> Path | None:
    """The workplace's ../shared folder (sample data and references), which is read, never copied in."""
    candidates = [os.environ.get("FIELDPROOF_SHARED_DIR"), REPO_ROOT.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "testdata").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    found = _find_shared_dir()
    if found is None:
        pytest.fail(
            "The shared sample data (../shared/testdata) was not found next to the repository or at /work/shared. "
            "Set FIELDPROOF_SHARED_DIR to the folder that holds testdata/ and reference/."
        )
    return found


@pytest.fixture(scope="session")
def testdata(shared_dir: Path) -> Path:
    return shared_dir / "testdata"
