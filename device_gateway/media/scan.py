"""Finding the media on a mounted camera (a DCIM tree) or in any folder, without following anything out of it.

Symbolic links are reported, not followed (a link can point anywhere, including back into the tree); special
files are reported too. Files whose extension is not a media type are reported as not media, without being read.
Everything found is accounted for in the import's results: nothing is skipped silently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MEDIA_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".heic",
        ".heif",
        ".png",
        ".tif",
        ".tiff",
        ".dng",
        ".webp",
        ".mp4",
        ".mov",
        ".m4v",
        ".avi",
        ".mkv",
        ".3gp",
        ".mts",
        ".ts",
        ".wav",
        ".mp3",
        ".m4a",
        ".aac",
        ".amr",
        ".flac",
        ".ogg",
        ".opus",
    }
)


@dataclass(frozen=True)
class Found:
    """A file to import, with what the filesystem said before it was read."""

    path: Path
    size: int
    modified_ns: int


@dataclass(frozen=True)
class Refused:
    """Something found that will not be imported, and why."""

    path: Path
    reason: str


def scan(paths: Sequence[Path], *, exclude: Path | None = None) -> Iterator[Found | Refused]:
    """Every file under ``paths`` (files or folders), in a stable order; nothing under ``exclude`` (the gateway's
    own data folder, whose blobs must never be imported as new evidence)."""
    fence = exclude.resolve() if exclude is not None else None
    for given in paths:
        yield from _scan_one(given, fence)


def _scan_one(path: Path, fence: Path | None) -> Iterator[Found | Refused]:
    try:
        status = path.lstat()
    except OSError as exc:
        yield Refused(path, f"cannot be read: {exc.strerror}")
        return
    if fence is not None and path.resolve().is_relative_to(fence):
        yield Refused(path, "inside the gateway's own data folder: not imported")
    elif stat.S_ISLNK(status.st_mode):
        yield Refused(path, "symbolic link: not followed (import the file it points to, if it is evidence)")
    elif stat.S_ISDIR(status.st_mode):
        yield from _scan_folder(path, fence)
    elif not stat.S_ISREG(status.st_mode):
        yield Refused(path, "not a regular file")
    elif path.suffix.lower() not in MEDIA_EXTENSIONS:
        yield Refused(path, f"not a media file ({path.suffix or 'no extension'})")
    else:
        yield Found(path, status.st_size, status.st_mtime_ns)


def _scan_folder(folder: Path, fence: Path | None) -> Iterator[Found | Refused]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        yield Refused(folder, f"folder cannot be read: {exc.strerror}")
        return
    for entry in entries:
        yield from _scan_one(Path(entry.path), fence)
