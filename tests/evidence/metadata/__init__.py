"""Tests of evidence.metadata, and the hand-built file builders they share (TIFF/EXIF, JPEG, ISOBMFF boxes).

The builders write bytes from the format specifications directly (not through the code under test), so a test
can make exactly the well-formed, odd or hostile structure it needs.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from typing import BinaryIO, cast

from PIL import Image

# (tag, TIFF type, values): bytes for ASCII/UNDEFINED, ints for integer types, (num, den) pairs for rationals.
Entry = tuple[int, int, object]
_INT_CODES = {1: "B", 3: "H", 4: "I", 8: "h", 9: "i"}
EXIF_POINTER, GPS_POINTER = 0x8769, 0x8825


def _encode(order: str, kind: int, values: object) -> tuple[bytes, int]:
    if isinstance(values, bytes):
        return values, len(values)
    items = list(cast(Sequence[object], values))
    if kind in (5, 10):
        flat = [int(part) for pair in cast(list[tuple[int, int]], items) for part in pair]
        return struct.pack(f"{order}{len(flat)}{'I' if kind == 5 else 'i'}", *flat), len(items)
    return struct.pack(f"{order}{len(items)}{_INT_CODES[kind]}", *cast(list[int], items)), len(items)


def ifd(order: str, entries: Sequence[Entry], offset: int, next_ifd: int = 0) -> bytes:
    """One IFD at ``offset`` with its out-of-line values right after it (word-aligned)."""
    data_start = offset + 2 + 12 * len(entries) + 4
    head, data = struct.pack(order + "H", len(entries)), b""
    for tag, kind, values in sorted(entries, key=lambda e: e[0]):
        raw, count = _encode(order, kind, values)
        if len(raw) <= 4:
            field = raw.ljust(4, b"\x00")
        else:
            field = struct.pack(order + "I", data_start + len(data))
            data += raw + b"\x00" * (len(raw) % 2)
        head += struct.pack(order + "HHI", tag, kind, count) + field
    return head + struct.pack(order + "I", next_ifd) + data


def tiff(order: str = "<", ifd0: Sequence[Entry] = (), exif: Sequence[Entry] = (), gps: Sequence[Entry] = ()) -> bytes:
    """A TIFF structure: header, IFD0 (with pointers to the Exif and GPS IFDs when given), then those IFDs."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"

    def zeroth(exif_at: int, gps_at: int) -> list[Entry]:
        pointers: list[Entry] = [(EXIF_POINTER, 4, [exif_at])] if exif else []
        return list(ifd0) + pointers + ([(GPS_POINTER, 4, [gps_at])] if gps else [])

    first = ifd(order, zeroth(0, 0), 8)
    exif_at = 8 + len(first)
    exif_bytes = ifd(order, exif, exif_at) if exif else b""
    gps_at = exif_at + len(exif_bytes)
    gps_bytes = ifd(order, gps, gps_at) if gps else b""
    return magic + struct.pack(order + "I", 8) + ifd(order, zeroth(exif_at, gps_at), 8) + exif_bytes + gps_bytes


def ascii_entry(tag: int, text: str) -> Entry:
    return (tag, 2, text.encode() + b"\x00")


def dms(value: float) -> list[tuple[int, int]]:
    """Degrees as (d/1, m/1, s*1000/1000) rationals, the usual camera layout."""
    value = abs(value)
    degrees, minutes = int(value), int(value * 60) % 60
    seconds = round((value * 3600 - degrees * 3600 - minutes * 60) * 1000)
    return [(degrees, 1), (minutes, 1), (seconds, 1000)]


def pillow_jpeg(size: tuple[int, int] = (16, 8), color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def app1(tiff_block: bytes) -> bytes:
    payload = b"Exif\x00\x00" + tiff_block
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_tiff(tiff_block: bytes) -> bytes:
    """A real (decodable) JPEG with the given TIFF block as its APP1 Exif segment, right after SOI."""
    return b"\xff\xd8" + app1(tiff_block) + pillow_jpeg()[2:]


def scan_data(jpeg: bytes) -> bytes:
    """Everything from the first SOS marker to the end (the entropy-coded image data and EOI)."""
    pos = 2
    while jpeg[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return jpeg[pos:]


def box(kind: bytes, payload: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, payload: bytes, flags: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def mvhd(version: int, created: int, modified: int = 0, timescale: int = 1000, duration: int = 0) -> bytes:
    if version == 0:
        times = struct.pack(">IIII", created, modified, timescale, duration)
    else:
        times = struct.pack(">QQIQ", created, modified, timescale, duration)
    return full_box(b"mvhd", version, times + b"\x00" * 80)


def xyz(text: str) -> bytes:
    raw = text.encode("ascii")
    return box(b"\xa9xyz", struct.pack(">HH", len(raw), 0x15C7) + raw)


def movie(*moov_children: bytes, brand: bytes = b"isom", mdat: bytes = b"\x00" * 32) -> bytes:
    ftyp = box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"mp41")
    return ftyp + box(b"mdat", mdat) + box(b"moov", b"".join(moov_children))


MAC_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01


class CountingReader(io.RawIOBase):
    """A read-only seekable stream over a real file that counts the bytes handed out."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self.bytes_read += len(data)
        return data

    def as_binary(self) -> BinaryIO:
        return cast(BinaryIO, self)
