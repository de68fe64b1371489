"""MP4/MOV/HEIF (ISO base media file format, ISO/IEC 14496-12) metadata: bounded, seek-based box walking.

Read from a movie: the major brand (``ftyp``), ``moov/mvhd`` creation and modification time (versions 0 and 1) and
duration, and a recording location from, in this order, the QuickTime ``©xyz`` user-data atom
(``moov/udta/©xyz``, ISO 6709 text such as ``+34.6197+112.4540+141.000/``), Apple's metadata keys
(``moov/meta`` key ``com.apple.quicktime.location.ISO6709``) or the 3GPP ``loci`` box.

``mvhd`` times are seconds since 1904-01-01 00:00. ISO 14496-12 says UTC, but many cameras write their local clock,
so :class:`MovieInfo` reports the value *as written* (naive); the caller decides which zone it is in.

Nothing here reads a whole file. Every read goes through :class:`BoundedReader`: at most
:data:`MAX_METADATA_BYTES` bytes and :data:`MAX_READS` reads per file, and at most :data:`MAX_BOXES` box headers;
every box is at least 8 bytes, so each step of a walk moves forward. A 4 GiB ``mdat`` costs one 16-byte header read.
A damaged or hostile file yields a result with an ``error``, never an exception (:exc:`OSError` from the stream
itself still propagates).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol, TypeVar

from evidence.errors import InputError

__all__ = [
    "MAX_BOXES", "MAX_METADATA_BYTES", "MAX_READS", "BoundedReader", "Box", "BytesSource", "MetadataFormatError",
    "MovieInfo", "MovieResult", "Source", "exif_block_from_heif", "exif_block_from_source", "iter_boxes",
    "parse_iso6709", "read_movie",
]  # fmt: skip

MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_READS = 20_000
MAX_BOXES = 4096
MAX_EXIF_BYTES = 4 * 1024 * 1024
_MAX_ITEMS = 10_000
_EPOCH_1904 = datetime(1904, 1, 1)
_MAX_SECONDS = int((datetime(9999, 12, 31) - _EPOCH_1904).total_seconds())
_UNIX_EPOCH_IN_1904 = 2082844800
_CONTAINERS = frozenset({b"moov", b"udta", b"meta", b"ilst"})
_APPLE_LOCATION_KEY = b"com.apple.quicktime.location.ISO6709"
_T = TypeVar("_T")


class MetadataFormatError(InputError):
    """A media file's structure cannot be read: truncated, malformed, hostile, or over the read budget."""


class Source(Protocol):
    """Random access to a bounded run of bytes (a file through :class:`BoundedReader`, or bytes in memory)."""

    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...


class BytesSource:
    """Bytes in memory as a :class:`Source`; reads past the end raise :exc:`MetadataFormatError`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        _check_range(offset, length, self.size)
        return self._data[offset : offset + length]


class BoundedReader:
    """Seek-based reads from a binary stream with a budget: bytes read, reads made, and the stream's end."""

    def __init__(self, stream: BinaryIO, *, budget: int = MAX_METADATA_BYTES, max_reads: int = MAX_READS) -> None:
        self._stream = stream
        self._size = stream.seek(0, os.SEEK_END)
        self._budget = budget
        self._max_reads = max_reads
        self.bytes_read = 0
        self.reads = 0

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        _check_range(offset, length, self._size)
        self.reads += 1
        self.bytes_read += length
        if self.reads > self._max_reads or self.bytes_read > self._budget:
            raise MetadataFormatError(
                f"metadata read budget exhausted ({self._max_reads} reads, {self._budget} bytes): file is hostile "
                "or its metadata is unusually large"
            )
        self._stream.seek(offset)
        data = self._stream.read(length)
        if len(data) != length:
            raise MetadataFormatError(f"file ended at offset {offset + len(data)}, before its stated size")
        return data


def _check_range(offset: int, length: int, size: int) -> None:
    if offset < 0 or length < 0 or offset + length > size:
        raise MetadataFormatError(f"{length} bytes at offset {offset} run past the end of the data ({size} bytes)")


@dataclass(frozen=True)
class Box:
    """One box: its type, where its header starts, where its content starts and where it ends."""

    type: bytes
    start: int
    content: int
    end: int

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")

    @property
    def content_size(self) -> int:
        return self.end - self.content


@dataclass
class _Counter:
    boxes: int = 0

    def tick(self) -> None:
        self.boxes += 1
        if self.boxes > MAX_BOXES:
            raise MetadataFormatError(f"more than {MAX_BOXES} boxes: the file is hostile or its structure is looping")


def iter_boxes(
    source: Source, start: int, end: int, counter: _Counter | None = None, *, top: bool = False
) -> Iterator[Box]:
    """The boxes between ``start`` and ``end`` (headers only); trailing padding under 8 bytes is ignored.

    ``top``: the file's top level, where every box type must be a four-character code (else: not a movie).
    """
    counter = counter or _Counter()
    pos = start
    while end - pos >= 8:
        box = _box_at(source, pos, end, top)
        counter.tick()
        yield box
        pos = box.end  # a box is at least 8 bytes long, so the walk always moves forward


def _box_at(source: Source, pos: int, end: int, top: bool) -> Box:
    size, kind = struct.unpack(">I4s", source.read_at(pos, 8))
    if top and not all(0x20 <= b < 0x7F or b == 0xA9 for b in kind):
        raise MetadataFormatError(f"not an MP4/MOV/HEIF file: no box type at offset {pos}")
    header = 8
    if size == 1:
        (size,) = struct.unpack(">Q", source.read_at(pos + 8, 8))
        header = 16
    elif size == 0:
        size = end - pos
    if kind == b"uuid":
        header += 16
    name = kind.decode("latin-1")
    if size < header:
        raise MetadataFormatError(f"box {name!r} at offset {pos} declares size {size}, smaller than its header")
    if pos + size > end:
        raise MetadataFormatError(f"box {name!r} at offset {pos} (size {size}) runs past the end of its container")
    return Box(kind, pos, pos + header, pos + size)


def _find(source: Source, parent: Box, kind: bytes, counter: _Counter, skip: int = 0) -> Box | None:
    return next((b for b in iter_boxes(source, parent.content + skip, parent.end, counter) if b.type == kind), None)


def _content(source: Source, box: Box, limit: int) -> bytes:
    if box.content_size > limit:
        raise MetadataFormatError(f"box {box.name!r} at offset {box.start} is larger than {limit} bytes")
    return source.read_at(box.content, box.content_size)


@dataclass(frozen=True)
class MovieInfo:
    """What an MP4/MOV says about itself; times are naive, exactly as written (see the module docstring)."""

    brand: str | None
    created_raw: datetime | None
    modified_raw: datetime | None
    duration_s: float | None
    location: tuple[float, float, float | None] | None
    problems: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class MovieResult:
    """``info`` when the movie header could be read, else ``error`` saying why."""

    info: MovieInfo | None
    error: str | None


def read_movie(stream: BinaryIO) -> MovieResult:
    """Brand, ``mvhd`` times and location of an MP4/MOV stream; a damaged file gives ``MovieResult(None, why)``."""
    try:
        return MovieResult(_read_movie(BoundedReader(stream)), None)
    except MetadataFormatError as exc:
        return MovieResult(None, str(exc))


def _read_movie(source: Source) -> MovieInfo:
    counter, brand, moov = _Counter(), None, None
    for box in iter_boxes(source, 0, source.size, counter, top=True):
        if box.type == b"ftyp" and box.content_size >= 4:
            brand = source.read_at(box.content, 4).decode("latin-1").rstrip(" \x00") or None
        if box.type == b"moov":
            moov = box
            break
    if moov is None:
        raise MetadataFormatError("no 'moov' box: the recording was not finalised (cut off?) or this is not a movie")
    problems: list[str] = []
    times = _movie_header(source, moov, counter, problems)
    location = _guarded(problems, "location", lambda: _location(source, moov, counter, problems))
    return MovieInfo(brand, *times, location=location, problems=tuple(problems))


def _guarded(problems: list[str], what: str, read: Callable[[], _T]) -> _T | None:
    try:
        return read()
    except MetadataFormatError as exc:
        problems.append(f"{what} unreadable: {exc}")
        return None


def _movie_header(
    source: Source, moov: Box, counter: _Counter, problems: list[str]
) -> tuple[datetime | None, datetime | None, float | None]:
    mvhd = _find(source, moov, b"mvhd", counter)
    if mvhd is None:
        raise MetadataFormatError("the 'moov' box has no 'mvhd' movie header")
    data = source.read_at(mvhd.content, min(mvhd.content_size, 32))
    layout = {0: ">4xIIII", 1: ">4xQQIQ"}.get(data[0]) if data else None
    if layout is None or len(data) < struct.calcsize(layout):
        raise MetadataFormatError(f"'mvhd' box at offset {mvhd.start} is truncated or of an unknown version")
    created, modified, timescale, duration = struct.unpack_from(layout, data)
    unknown = 0xFFFFFFFF if data[0] == 0 else 0xFFFFFFFFFFFFFFFF
    if timescale == 0:
        problems.append("mvhd timescale is 0: duration unknown")
    seconds = duration / timescale if timescale and duration != unknown else None
    return _mac_time(created, "creation", problems), _mac_time(modified, "modification", problems), seconds


def _mac_time(value: int, what: str, problems: list[str]) -> datetime | None:
    if value == 0:
        return None
    if value > _MAX_SECONDS:
        problems.append(f"mvhd {what} time {value} is out of range")
        return None
    if value < _UNIX_EPOCH_IN_1904:
        problems.append(f"mvhd {what} time is before 1970: the writer may have counted from 1970, not 1904")
    return _EPOCH_1904 + timedelta(seconds=value)


def _location(
    source: Source, moov: Box, counter: _Counter, problems: list[str]
) -> tuple[float, float, float | None] | None:
    texts: dict[str, bytes] = {}
    for box in iter_boxes(source, moov.content, moov.end, counter):
        if box.type == b"udta":
            texts |= _user_data(source, box, counter)
        elif box.type == b"meta":
            texts |= _apple_keys(source, box, counter)
    for key in ("©xyz", "apple", "loci"):
        if key in texts:
            where = _parse_location(key, texts[key])
            if where is None:
                problems.append(f"location in {key!r} is unreadable or out of range")
            return where
    return None


def _user_data(source: Source, udta: Box, counter: _Counter) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for box in iter_boxes(source, udta.content, udta.end, counter):
        if box.type in (b"\xa9xyz", b"loci"):
            found.setdefault(box.name, _content(source, box, 4096))
    return found


def _apple_keys(source: Source, meta: Box, counter: _Counter) -> dict[str, bytes]:
    skip = 0 if source.read_at(meta.content + 4, 4) == b"hdlr" else 4  # QuickTime 'meta' has no version/flags
    keys_box, ilst = _find(source, meta, b"keys", counter, skip), _find(source, meta, b"ilst", counter, skip)
    if keys_box is None or ilst is None:
        return {}
    keys = _key_names(_content(source, keys_box, 65536))
    index = keys.index(_APPLE_LOCATION_KEY) + 1 if _APPLE_LOCATION_KEY in keys else 0
    for item in iter_boxes(source, ilst.content, ilst.end, counter):
        if int.from_bytes(item.type, "big") == index and (data := _find(source, item, b"data", counter)):
            return {"apple": _content(source, data, 4096)[8:]}  # type indicator and locale precede the text
    return {}


def _key_names(data: bytes) -> list[bytes]:
    names: list[bytes] = []
    pos = 8  # version/flags, entry count
    while pos + 8 <= len(data) and len(names) < _MAX_ITEMS:
        (size,) = struct.unpack_from(">I", data, pos)
        if size < 8:
            break
        names.append(data[pos + 8 : pos + size])
        pos += size
    return names


def _parse_location(key: str, data: bytes) -> tuple[float, float, float | None] | None:
    if key == "loci":
        return _parse_loci(data)
    if key == "©xyz" and len(data) >= 4:
        (length,) = struct.unpack_from(">H", data)
        data = data[4 : 4 + length]
    return parse_iso6709(data.decode("latin-1"))


_ISO6709 = re.compile(r"([+-])(\d+)(\.\d+)?([+-])(\d+)(\.\d+)?(?:([+-]\d+(?:\.\d+)?))?(?:CRS[^/]*)?/?")


def parse_iso6709(text: str) -> tuple[float, float, float | None] | None:
    """``+34.6197+112.4540+141.000/`` (degrees, or ``±DDMM.M``/``±DDMMSS.S`` forms) to (lat, lon, alt) or None."""
    match = _ISO6709.fullmatch(text.strip().rstrip("\x00").strip())
    if match is None:
        return None
    sign_lat, int_lat, frac_lat, sign_lon, int_lon, frac_lon, alt = match.groups()
    lat = _iso_angle(sign_lat, int_lat, frac_lat or "", 2)
    lon = _iso_angle(sign_lon, int_lon, frac_lon or "", 3)
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lat, lon, float(alt) if alt else None


def _iso_angle(sign: str, integer: str, fraction: str, degree_digits: int) -> float | None:
    extra = len(integer) - degree_digits
    if extra not in (-2, -1, 0, 2, 4):
        return None
    whole = float(integer + fraction)
    if extra == 2:  # DDMM.mm
        whole = int(integer[:-2]) + float(integer[-2:] + fraction) / 60
    elif extra == 4:  # DDMMSS.ss
        whole = int(integer[:-4]) + int(integer[-4:-2]) / 60 + float(integer[-2:] + fraction) / 3600
    return -whole if sign == "-" else whole


def _parse_loci(data: bytes) -> tuple[float, float, float | None] | None:
    pos = 6  # version/flags, language
    terminator = b"\x00\x00" if data[pos : pos + 2] in (b"\xfe\xff", b"\xff\xfe") else b"\x00"
    end = data.find(terminator, pos)
    if end < 0 or len(data) < end + len(terminator) + 13:
        return None
    lon, lat, alt = struct.unpack_from(">iii", data, end + len(terminator) + 1)  # after the role byte
    lat_f, lon_f = lat / 65536, lon / 65536
    if abs(lat_f) > 90 or abs(lon_f) > 180:
        return None
    return lat_f, lon_f, alt / 65536


def exif_block_from_heif(stream: BinaryIO) -> bytes | None:
    """The TIFF-structured Exif block of a HEIF/HEIC image (the ``Exif`` item found via ``meta/iinf``/``iloc``).

    ``None`` when the file has no Exif item; :exc:`MetadataFormatError` when its boxes are damaged or the item is
    stored in a way this reader does not follow (item references, extents of unspecified length).
    """
    return exif_block_from_source(BoundedReader(stream))


def exif_block_from_source(source: Source) -> bytes | None:
    """:func:`exif_block_from_heif` over a :class:`Source` (so a caller can share one read budget)."""
    counter = _Counter()
    meta = next((b for b in iter_boxes(source, 0, source.size, counter, top=True) if b.type == b"meta"), None)
    if meta is None:
        return None
    children = {b.type: b for b in iter_boxes(source, meta.content + 4, meta.end, counter) if b.type in _HEIF_BOXES}
    if b"iinf" not in children or b"iloc" not in children:
        return None
    item_id = _exif_item_id(source, children[b"iinf"], counter)
    if item_id is None:
        return None
    method, extents = _item_location(_content(source, children[b"iloc"], 1 << 20), item_id)
    payload = _item_payload(source, method, extents, children.get(b"idat"))
    return _strip_exif_header(payload)


_HEIF_BOXES = frozenset({b"iinf", b"iloc", b"idat"})


def _exif_item_id(source: Source, iinf: Box, counter: _Counter) -> int | None:
    version = source.read_at(iinf.content, 1)[0] if iinf.content_size else 0
    for infe in iter_boxes(source, iinf.content + (6 if version == 0 else 8), iinf.end, counter):
        data = _content(source, infe, 4096) if infe.type == b"infe" else b""
        if len(data) >= 12 and data[0] in (2, 3):
            layout = ">4xH2x4s" if data[0] == 2 else ">4xI2x4s"
            if len(data) >= struct.calcsize(layout):
                item_id, item_type = struct.unpack_from(layout, data)
                if item_type == b"Exif":
                    return int(item_id)
    return None


class _Cursor:
    """Sequential big-endian reads from bytes; running short raises :exc:`MetadataFormatError`."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self, size: int) -> int:
        if self.pos + size > len(self.data):
            raise MetadataFormatError("'iloc' box is truncated")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value


def _item_location(data: bytes, wanted: int) -> tuple[int, list[tuple[int, int]]]:
    cur = _Cursor(data)
    version = cur.uint(1)
    cur.uint(3)
    sizes, more = cur.uint(1), cur.uint(1)
    offset_size, length_size, base_size = sizes >> 4, sizes & 15, more >> 4
    index_size = more & 15 if version in (1, 2) else 0
    if {offset_size, length_size, base_size, index_size} - {0, 4, 8}:
        raise MetadataFormatError("'iloc' box uses a field size other than 0, 4 or 8 bytes")
    steps = 0
    for _ in range(cur.uint(2 if version < 2 else 4)):
        item_id = cur.uint(2 if version < 2 else 4)
        method = cur.uint(2) & 15 if version in (1, 2) else 0
        cur.uint(2)  # data reference index
        base = cur.uint(base_size)
        extents = []
        for _ in range(cur.uint(2)):
            steps += 1
            if steps > _MAX_ITEMS:
                raise MetadataFormatError(f"'iloc' box lists more than {_MAX_ITEMS} extents")
            cur.uint(index_size)
            extents.append((base + cur.uint(offset_size), cur.uint(length_size)))
        if item_id == wanted:
            return method, extents
    raise MetadataFormatError(f"the Exif item {wanted} has no location in the 'iloc' box")


def _item_payload(source: Source, method: int, extents: list[tuple[int, int]], idat: Box | None) -> bytes:
    if method not in (0, 1) or (method == 1 and idat is None):
        raise MetadataFormatError(f"the Exif item uses construction method {method}, which is not supported")
    base = idat.content if method == 1 and idat else 0
    if any(length == 0 for _, length in extents) or sum(n for _, n in extents) > MAX_EXIF_BYTES:
        raise MetadataFormatError("the Exif item's extents are empty, of unspecified length or too large")
    return b"".join(source.read_at(base + offset, length) for offset, length in extents)


def _strip_exif_header(payload: bytes) -> bytes:
    if len(payload) < 4:
        raise MetadataFormatError("the Exif item is shorter than its 4-byte header")
    skip = 4 + int.from_bytes(payload[:4], "big")
    if skip > len(payload):
        raise MetadataFormatError("the Exif item's TIFF header offset points past its end")
    block = payload[skip:]
    return block[6:] if block.startswith(b"Exif\x00\x00") else block
