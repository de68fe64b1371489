"""The run's scratch directory, the test file, page-cache warming, and OpenSSL as a subprocess."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.progress import note

OUT = Path(__file__).resolve().parent / "out"  # git-ignored, on the same filesystem as the repository
_CHUNK = 1024 * 1024


@contextmanager
def workspace(parent: Path) -> Iterator[Path]:
    """A fresh directory under ``parent``, removed with everything in it on exit, Ctrl-C included."""
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=parent) as name:
        yield Path(name)
    note(f"removed {name}")


def make_file(path: Path, size: int) -> None:
    """Write ``size`` random bytes to ``path`` and make them durable, so no later sync has to flush them."""
    note(f"writing {size:,} random bytes to {path}")
    with open(path, "xb", buffering=0) as stream:
        remaining = size
        while remaining:
            remaining -= stream.write(os.urandom(min(_CHUNK, remaining)))
        os.fsync(stream.fileno())
    os.sync()


def warm(path: Path) -> None:
    """Read ``path`` through so that its pages are in the page cache (dropping caches is not available)."""
    buffer = bytearray(_CHUNK)
    with open(path, "rb", buffering=0) as stream:
        while stream.readinto(buffer):
            pass


def recycle_memory(scratch: Path, size: int) -> None:
    """Write ``size`` bytes to a scratch file and delete it, so that the next run gets recently freed pages.

    In a virtual machine with free-page reporting (virtio-balloon) the host takes back guest pages that stay free
    for a couple of seconds; touching them again costs a host fault per page, and writing a new file into the page
    cache then runs about ten times slower, at random. Recycling just before a timed run makes every variant
    allocate hot pages, which is what a machine without a balloon always does.
    """
    zeros = bytes(_CHUNK)
    with open(scratch, "xb", buffering=0) as stream:
        for _ in range(0, size, _CHUNK):
            stream.write(zeros)
    scratch.unlink()


def settle(source: Path) -> None:
    """Untimed set-up before every timed run: no dirty pages anywhere, and the source in the page cache."""
    os.sync()
    warm(source)


def openssl_sha256(path: Path) -> str:
    """``openssl dgst -sha256 PATH``; the hex digest it prints."""
    result = subprocess.run(["openssl", "dgst", "-sha256", str(path)], capture_output=True, text=True, check=True)
    return result.stdout.rsplit("=", 1)[1].strip()


def check_digest(variant: str, got: str, expected: str) -> None:
    if got != expected:
        raise RuntimeError(f"{variant} produced SHA-256 {got}, expected {expected}: the benchmark is broken")
