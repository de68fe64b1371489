"""Media type and evidence kind of a file, from its first bytes (magic numbers) and then its name.

Content wins over the name: a camera's ``.MP4`` that is really a QuickTime file is still video, and a renamed
file does not change what it is. Only what cannot be told from content falls back to the file extension.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

SNIFF_BYTES = 64

# (offset, magic, media type); checked in order.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"\x1aE\xdf\xa3", "video/x-matroska"),
    (0, b"PK\x03\x04", "application/zip"),
)
_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}
_RIFF_FORMS = {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo", b"WEBP": "image/webp"}
_KIND_BY_PREFIX = (("image/", "photo"), ("video/", "video"), ("audio/", "audio"))

__all__ = ["SNIFF_BYTES", "kind_for", "sniff", "sniff_file"]


def sniff(head: bytes, name: str) -> str:
    """Media type from the first bytes of a file, else from its name, else application/octet-stream."""
    for offset, magic, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_FORMS:
        return _RIFF_FORMS[head[8:12]]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def sniff_file(path: Path) -> str:
    with open(path, "rb") as stream:
        return sniff(stream.read(SNIFF_BYTES), path.name)


def kind_for(media_type: str) -> str:
    """Evidence kind (DESIGN.md §3) for a media type: photo, video, audio or document."""
    for prefix, kind in _KIND_BY_PREFIX:
        if media_type.startswith(prefix):
            return kind
    return "document"
