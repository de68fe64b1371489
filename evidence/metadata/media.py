"""One entry point per file: sniff its type, then read what applies (EXIF, movie header, file name).

Type comes from content first (:mod:`evidence.mediatypes`): JPEG, TIFF and HEIF/HEIC get :func:`read_exif`;
MP4, MOV, 3GP and M4A (and any other ``ftyp`` video or audio) get :func:`read_movie`; every file gets
:func:`parse_filename`. Contents never make this raise: an unreadable part is a result with an ``error``. Only
:exc:`OSError` (a file that cannot be opened or read) reaches the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from evidence.mediatypes import SNIFF_BYTES, kind_for, sniff
from evidence.metadata.exif import ExifResult, read_exif
from evidence.metadata.filenames import FilenameInfo, FilenamePattern, parse_filename
from evidence.metadata.isobmff import MovieResult, read_movie

__all__ = ["EXIF_TYPES", "INTERNAL_ERROR", "MOVIE_TYPES", "MediaMetadata", "read_media", "read_media_stream"]

EXIF_TYPES = frozenset({"image/jpeg", "image/tiff", "image/heic", "image/heif"})
MOVIE_TYPES = frozenset({"video/mp4", "video/quicktime", "video/3gpp", "audio/mp4"})
INTERNAL_ERROR = "internal error in the metadata reader"


_R = TypeVar("_R", ExifResult, MovieResult)


@dataclass(frozen=True)
class MediaMetadata:
    """Everything read from one file; ``exif``/``movie`` are None when they do not apply to its type."""

    media_type: str
    kind: str
    exif: ExifResult | None
    movie: MovieResult | None
    filename: FilenameInfo | None


def read_media(path: Path, *, patterns: Sequence[FilenamePattern] | None = None) -> MediaMetadata:
    """Read the metadata of the file at ``path`` (see the module docstring); raises only :exc:`OSError`."""
    with open(path, "rb") as stream:
        return read_media_stream(stream, path.name, patterns=patterns)


def read_media_stream(
    stream: BinaryIO, name: str, *, patterns: Sequence[FilenamePattern] | None = None
) -> MediaMetadata:
    """:func:`read_media` on an open binary stream (seekable) whose file name is ``name``."""
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    media_type = sniff(head, name)
    kind = kind_for(media_type)
    exif = _guarded(read_exif, stream, ExifResult) if media_type in EXIF_TYPES else None
    is_movie = media_type in MOVIE_TYPES or (kind in ("video", "audio") and head[4:8] == b"ftyp")
    movie = _guarded(read_movie, stream, MovieResult) if is_movie else None
    return MediaMetadata(media_type, kind, exif, movie, parse_filename(name, patterns))


def _guarded(reader: Callable[[BinaryIO], _R], stream: BinaryIO, result: type[_R]) -> _R:
    """The last line of defence: a bug in a reader marks this file's metadata unreadable, not the import failed."""
    try:
        return reader(stream)
    except OSError:
        raise
    except Exception as exc:  # one file's metadata must never stop an evidence import
        return result(None, f"{INTERNAL_ERROR} ({type(exc).__name__}: {exc}); please report this file")
