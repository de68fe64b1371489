"""EXIF capture facts from JPEG, TIFF and HEIF/HEIC: camera clock, zone, camera identity and GPS; and geotagged copies.

What each value means (DESIGN.md §4):

- ``camera_time`` is the camera's own clock, local time, often wrong: ``DateTimeOriginal`` plus
  ``SubSecTimeOriginal``; only when that is missing or blank ``DateTimeDigitized``, then ``DateTime`` (the file's
  modification time), with ``camera_time_tag`` naming the tag used and a problem noting the fallback.
  ``camera_offset`` comes from the matching ``OffsetTime*`` tag (``OffsetTime`` as a noted fallback).
- GPS positions are WGS-84. ``GpsInfo.time_utc`` is ``GPSDateStamp`` + ``GPSTimeStamp``: UTC from the satellites,
  fractional seconds kept to the microsecond. A position is only reported when it is complete: a missing or
  invalid ``GPSLatitudeRef``/``GPSLongitudeRef`` makes it unusable (the hemisphere is never guessed), as do a zero
  denominator, ``GPSStatus`` V (no fix), an out-of-range value, or exactly 0°, 0° (written by receivers without a
  fix). A missing ``GPSAltitudeRef`` is taken as above sea level (the EXIF default). Each such decision is
  recorded in ``ExifInfo.problems``.

A damaged or hostile EXIF block never raises: :func:`read_exif` returns ``ExifResult(None, why)`` when the block
cannot be read at all, and keeps what it can when only a part (a sub-IFD, one tag) is damaged. JPEG files are
scanned marker by marker up to SOS, reading only segment headers and the Exif APP1 segment, within the
:class:`~evidence.metadata.isobmff.BoundedReader` budget; IFD pointers are followed one level deep from IFD0, and a
pointer back to an IFD already read is refused.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, BinaryIO, TypeVar

import piexif

from evidence.errors import InputError
from evidence.metadata.isobmff import (
    BoundedReader,
    BytesSource,
    MetadataFormatError,
    Source,
    exif_block_from_source,
)

__all__ = ["ExifInfo", "ExifResult", "GeotagError", "GpsInfo", "geotag_jpeg", "read_exif", "read_exif_block"]

MAX_JPEG_SEGMENTS = 1024
_MAX_VALUE_BYTES = 65536
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_INT_CODES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}  # 13: IFD offset
TAG_NAMES = {
    0x010F: "Make", 0x0110: "Model", 0x0132: "DateTime", 0x8769: "ExifIFDPointer", 0x8825: "GPSInfoIFDPointer",
    0xC62F: "CameraSerialNumber", 0x9003: "DateTimeOriginal", 0x9004: "DateTimeDigitized", 0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal", 0x9012: "OffsetTimeDigitized", 0x9290: "SubSecTime",
    0x9291: "SubSecTimeOriginal", 0x9292: "SubSecTimeDigitized", 0xA431: "BodySerialNumber",
    0x0001: "GPSLatitudeRef", 0x0002: "GPSLatitude", 0x0003: "GPSLongitudeRef", 0x0004: "GPSLongitude",
    0x0005: "GPSAltitudeRef", 0x0006: "GPSAltitude", 0x0007: "GPSTimeStamp", 0x0009: "GPSStatus",
    0x0012: "GPSMapDatum", 0x001D: "GPSDateStamp",
}  # fmt: skip
_TAG = {name: tag for tag, name in TAG_NAMES.items()}
# (time tag, IFD holding it, sub-second tag, offset tag); sub-second and offset tags live in the Exif IFD.
_TIME_TAGS = (
    ("DateTimeOriginal", "exif", "SubSecTimeOriginal", "OffsetTimeOriginal"),
    ("DateTimeDigitized", "exif", "SubSecTimeDigitized", "OffsetTimeDigitized"),
    ("DateTime", "ifd0", "SubSecTime", "OffsetTime"),
)
_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
_T = TypeVar("_T")


class GeotagError(InputError):
    """A geotagged copy cannot be made: not a JPEG, unreadable existing EXIF, or invalid coordinates."""


@dataclass(frozen=True)
class GpsInfo:
    """A complete GPS fix: WGS-84 degrees (south/west negative), metres (below sea level negative), UTC time."""

    lat: float
    lon: float
    alt: float | None
    time_utc: datetime | None
    map_datum: str | None


@dataclass(frozen=True)
class ExifInfo:
    """What the EXIF block says; ``problems`` lists non-fatal issues and every decision taken on doubtful data."""

    camera_time: datetime | None
    camera_time_tag: str | None
    camera_offset: timedelta | None
    make: str | None
    model: str | None
    serial: str | None
    gps: GpsInfo | None
    problems: tuple[str, ...]
    gps_time_utc: datetime | None = None  # GPS date/time, also when the position itself is unusable


@dataclass(frozen=True)
class ExifResult:
    """``info`` when an Exif block was read, ``error`` when one exists but cannot be read, both None when none."""

    info: ExifInfo | None
    error: str | None


def read_exif(stream: BinaryIO) -> ExifResult:
    """EXIF of a JPEG, TIFF or HEIF/HEIC stream; any other content gives ``ExifResult(None, None)``."""
    try:
        source = BoundedReader(stream)
        block = _find_block(source)
        return ExifResult(None if block is None else _parse(block), None)
    except MetadataFormatError as exc:
        return ExifResult(None, str(exc))


def read_exif_block(tiff: bytes) -> ExifResult:
    """EXIF from a TIFF-structured block (what follows ``Exif\\0\\0`` in a JPEG APP1 segment)."""
    try:
        return ExifResult(_parse(BytesSource(tiff)), None)
    except MetadataFormatError as exc:
        return ExifResult(None, str(exc))


def _find_block(source: BoundedReader) -> Source | None:
    head = source.read_at(0, min(source.size, 12))
    if head.startswith(b"\xff\xd8"):
        span = _exif_span(source)
        return None if span is None else BytesSource(source.read_at(span[0] + 10, span[1] - span[0] - 10))
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return source
    if head[4:8] == b"ftyp":
        block = exif_block_from_source(source)
        return None if block is None else BytesSource(block)
    return None


def _exif_span(source: Source) -> tuple[int, int] | None:
    """Start and end offsets of a JPEG's APP1 Exif segment (marker included), or None when there is none."""
    pos = 2
    for _ in range(MAX_JPEG_SEGMENTS):
        pos, code = _next_marker(source, pos)
        if code in (0xDA, 0xD9):  # start of scan, end of image: no Exif before the image data
            return None
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", source.read_at(pos + 2, 2))
        if length < 2:
            raise MetadataFormatError(f"JPEG segment at offset {pos} declares length {length}, less than 2")
        if code == 0xE1 and length >= 8 and source.read_at(pos + 4, 5) == b"Exif\x00":
            if pos + 2 + length > source.size:
                raise MetadataFormatError(f"the APP1 Exif segment at offset {pos} runs past the end of the file")
            return pos, pos + 2 + length
        pos += 2 + length
    raise MetadataFormatError(f"more than {MAX_JPEG_SEGMENTS} JPEG segments before the image data")


def _next_marker(source: Source, pos: int) -> tuple[int, int]:
    """The next marker at or after ``pos`` (fill bytes 0xFF skipped): its offset and code."""
    if source.read_at(pos, 1) != b"\xff":
        raise MetadataFormatError(f"JPEG structure damaged: no marker at offset {pos}")
    for _ in range(64):
        code = source.read_at(pos + 1, 1)[0]
        if code != 0xFF:
            return pos, code
        pos += 1
    raise MetadataFormatError(f"JPEG structure damaged: a run of fill bytes at offset {pos}")


@dataclass(frozen=True)
class _Entry:
    tag: int
    type: int
    count: int
    field: bytes  # the 4-byte value-or-offset field


class _Tiff:
    """IFD and value access in a TIFF structure; every read is range-checked by the source."""

    def __init__(self, source: Source) -> None:
        self.source = source
        head = source.read_at(0, 8) if source.size >= 8 else b""
        orders = {b"II": "<", b"MM": ">"}
        if head[:2] not in orders:
            raise MetadataFormatError("the Exif block has no TIFF header (II or MM)")
        self.order = orders[head[:2]]
        magic, self.ifd0 = struct.unpack(self.order + "HI", head[2:8])
        if magic != 42:
            raise MetadataFormatError(f"the Exif block's TIFF header has magic {magic}, not 42")
        self.visited: set[int] = set()

    def ifd(self, offset: int, what: str) -> dict[int, _Entry]:
        if offset in self.visited:
            raise MetadataFormatError(f"{what} points back to an IFD already read (offset {offset})")
        self.visited.add(offset)
        try:
            (count,) = struct.unpack(self.order + "H", self.source.read_at(offset, 2))
            raw = self.source.read_at(offset + 2, 12 * count)
        except MetadataFormatError as exc:
            raise MetadataFormatError(f"{what} at offset {offset} is unreadable: {exc}") from exc
        entries: dict[int, _Entry] = {}
        for tag, kind, n, field in struct.iter_unpack(self.order + "HHI4s", raw):
            entries.setdefault(tag, _Entry(tag, kind, n, field))
        return entries

    def value(self, entry: _Entry) -> bytes:
        name = TAG_NAMES.get(entry.tag, f"tag 0x{entry.tag:04X}")
        if entry.type not in _TYPE_SIZES:
            raise MetadataFormatError(f"{name} has unknown type {entry.type}")
        size = _TYPE_SIZES[entry.type] * entry.count
        if size <= 4:
            return entry.field[:size]
        if size > _MAX_VALUE_BYTES:
            raise MetadataFormatError(f"{name} claims {entry.count} values ({size} bytes)")
        (offset,) = struct.unpack(self.order + "I", entry.field)
        try:
            return self.source.read_at(offset, size)
        except MetadataFormatError as exc:
            raise MetadataFormatError(f"{name} value is out of bounds: {exc}") from exc

    def ints(self, entry: _Entry) -> list[int]:
        if entry.type not in _INT_CODES:
            raise MetadataFormatError(f"{TAG_NAMES.get(entry.tag)} is not an integer (type {entry.type})")
        return list(struct.unpack(f"{self.order}{entry.count}{_INT_CODES[entry.type]}", self.value(entry)))

    def rationals(self, entry: _Entry) -> list[tuple[int, int]]:
        if entry.type not in (5, 10):
            raise MetadataFormatError(f"{TAG_NAMES.get(entry.tag)} is not a rational (type {entry.type})")
        code = "I" if entry.type == 5 else "i"
        values = struct.unpack(f"{self.order}{2 * entry.count}{code}", self.value(entry))
        return list(zip(values[::2], values[1::2], strict=True))


def _text(raw: bytes) -> str | None:
    raw = raw.split(b"\x00", 1)[0].strip()
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding).strip() or None
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1").strip() or None


class _Reader:
    """Tag lookups that turn a damaged value into a recorded problem instead of an error."""

    def __init__(self, tiff: _Tiff) -> None:
        self.tiff = tiff
        self.problems: list[str] = []

    def note(self, problem: str) -> None:
        self.problems.append(problem)

    def sub_ifd(self, ifd0: dict[int, _Entry], pointer: str, what: str) -> dict[int, _Entry]:
        entry = ifd0.get(_TAG[pointer])
        offsets = self.get(entry, self.tiff.ints) if entry else None
        if not offsets:
            return {}
        try:
            return self.tiff.ifd(offsets[0], what)
        except MetadataFormatError as exc:
            self.note(f"{exc}: ignored")
            return {}

    def get(self, entry: _Entry | None, decode: Callable[[_Entry], _T]) -> _T | None:
        if entry is None:
            return None
        try:
            return decode(entry)
        except MetadataFormatError as exc:
            self.note(f"{exc}: ignored")
            return None

    def text(self, ifd: dict[int, _Entry], name: str) -> str | None:
        raw = self.get(ifd.get(_TAG[name]), self.tiff.value)
        return None if raw is None else _text(raw)

    def rationals(self, ifd: dict[int, _Entry], name: str) -> list[tuple[int, int]] | None:
        return self.get(ifd.get(_TAG[name]), self.tiff.rationals)

    def number(self, ifd: dict[int, _Entry], name: str) -> int | None:
        entry = ifd.get(_TAG[name])
        if entry is not None and entry.type in (2, 7):  # some writers store small numbers as text
            text = self.text(ifd, name)
            return int(text) if text and text.isdigit() and len(text) < 4 else None
        values = self.get(entry, self.tiff.ints)
        return values[0] if values else None


def _parse(source: Source) -> ExifInfo:
    tiff = _Tiff(source)
    ifd0 = tiff.ifd(tiff.ifd0, "IFD0")
    r = _Reader(tiff)
    exif = r.sub_ifd(ifd0, "ExifIFDPointer", "the Exif IFD")
    gps_ifd = r.sub_ifd(ifd0, "GPSInfoIFDPointer", "the GPS IFD")
    camera_time, tag, offset = _camera_time(r, {"ifd0": ifd0, "exif": exif})
    make, model = r.text(ifd0, "Make"), r.text(ifd0, "Model")
    serial = r.text(exif, "BodySerialNumber") or r.text(ifd0, "CameraSerialNumber")
    gps, gps_time = _gps(r, gps_ifd)
    return ExifInfo(camera_time, tag, offset, make, model, serial, gps, tuple(r.problems), gps_time)


def _camera_time(
    r: _Reader, ifds: dict[str, dict[int, _Entry]]
) -> tuple[datetime | None, str | None, timedelta | None]:
    for name, where, subsec_tag, offset_tag in _TIME_TAGS:
        text = r.text(ifds[where], name)
        when = _parse_datetime(r, name, text) if text is not None else None
        if when is None:
            continue
        if name != "DateTimeOriginal":
            r.note(f"DateTimeOriginal missing or unusable: camera time taken from {name}")
        when = when.replace(microsecond=_subsec(r, subsec_tag, r.text(ifds["exif"], subsec_tag)))
        return when, name, _offset(r, ifds["exif"], offset_tag)
    return None, None, None


def _parse_datetime(r: _Reader, name: str, text: str) -> datetime | None:
    match = _DATETIME.fullmatch(text)
    if match is None:
        r.note(f"{name} {text!r} is blank or not a date and time: ignored")
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        r.note(f"{name} {text!r} is not a valid date and time: ignored")
        return None


def _subsec(r: _Reader, name: str, text: str | None) -> int:
    if text is None:
        return 0
    if not text.isdecimal() or not text.isascii():
        r.note(f"{name} {text!r} is not a run of digits: ignored")
        return 0
    return int(text[:6].ljust(6, "0"))


def _offset(r: _Reader, exif: dict[int, _Entry], name: str) -> timedelta | None:
    text = r.text(exif, name)
    if text is None and name != "OffsetTime" and (text := r.text(exif, "OffsetTime")) is not None:
        r.note(f"{name} missing: zone taken from OffsetTime (the zone of the file's modification time)")
        name = "OffsetTime"
    match = _OFFSET.fullmatch(text) if text else None
    if text is not None and (match is None or int(match[2]) > 14 or int(match[3]) > 59):
        r.note(f"{name} {text!r} is not a zone offset like +08:00: ignored")
        return None
    if match is None:
        return None
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return -delta if match[1] == "-" else delta


def _gps(r: _Reader, ifd: dict[int, _Entry]) -> tuple[GpsInfo | None, datetime | None]:
    if not ifd:
        return None, None
    time_utc = _gps_time(r, ifd)
    position = _position(r, ifd)
    if position is None:
        return None, time_utc
    gps = GpsInfo(position[0], position[1], _altitude(r, ifd), time_utc, r.text(ifd, "GPSMapDatum"))
    return gps, time_utc


def _position(r: _Reader, ifd: dict[int, _Entry]) -> tuple[float, float] | None:
    if _TAG["GPSLatitude"] not in ifd and _TAG["GPSLongitude"] not in ifd:
        return None
    status = r.text(ifd, "GPSStatus")
    if status is not None and status.upper().startswith("V"):
        r.note("GPSStatus is V (measurement void, no fix): position not used")
        return None
    lat = _coordinate(r, ifd, "GPSLatitude", "NS", 90.0)
    lon = _coordinate(r, ifd, "GPSLongitude", "EW", 180.0)
    if lat is None or lon is None:
        return None
    if lat == 0.0 and lon == 0.0:
        r.note("GPS position is exactly 0°, 0° (written by receivers without a fix): position not used")
        return None
    return lat, lon


def _coordinate(r: _Reader, ifd: dict[int, _Entry], name: str, hemispheres: str, limit: float) -> float | None:
    parts = r.rationals(ifd, name)
    if not parts or len(parts) > 3:
        r.note(f"{name} is missing or malformed: position not used")
        return None
    if any(den == 0 for _, den in parts):
        r.note(f"{name} has a zero denominator: position not used")
        return None
    ref = (r.text(ifd, name + "Ref") or "").upper()
    if ref not in (hemispheres[0], hemispheres[1]):
        problem = "missing" if not ref else f"{ref!r} is not {' or '.join(hemispheres)}"
        r.note(f"{name}Ref {problem}: hemisphere unknown, position not used")
        return None
    value = float(sum(Fraction(num, den) / 60**i for i, (num, den) in enumerate(parts)))
    if not 0.0 <= value <= limit:
        r.note(f"{name} {value} is out of range: position not used")
        return None
    return -value if ref == hemispheres[1] else value


def _altitude(r: _Reader, ifd: dict[int, _Entry]) -> float | None:
    parts = r.rationals(ifd, "GPSAltitude")
    if not parts:
        return None
    num, den = parts[0]
    if den == 0:
        r.note("GPSAltitude has a zero denominator: altitude not used")
        return None
    ref = r.number(ifd, "GPSAltitudeRef")
    if ref is None:
        r.note("GPSAltitudeRef missing: altitude taken as above sea level (the EXIF default)")
        ref = 0
    if ref not in (0, 1):
        r.note(f"GPSAltitudeRef {ref} is not sea level (0 or 1): altitude not used")
        return None
    return -num / den if ref == 1 else num / den


def _gps_time(r: _Reader, ifd: dict[int, _Entry]) -> datetime | None:
    parts = r.rationals(ifd, "GPSTimeStamp")
    if parts is None:
        return None
    date_text = r.text(ifd, "GPSDateStamp")
    date = _DATE.fullmatch(date_text) if date_text else None
    if date is None:
        r.note(f"GPSDateStamp {'missing' if date_text is None else repr(date_text)}: GPS time not used")
        return None
    if len(parts) != 3 or any(den == 0 for _, den in parts):
        r.note("GPSTimeStamp is malformed or has a zero denominator: GPS time not used")
        return None
    h, m, s = (Fraction(num, den) for num, den in parts)
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        r.note(f"GPSTimeStamp {float(h)}:{float(m)}:{float(s)} is out of range: GPS time not used")
        return None
    try:
        day = datetime(int(date[1]), int(date[2]), int(date[3]), tzinfo=UTC)
    except ValueError:
        r.note(f"GPSDateStamp {date_text!r} is not a valid date: GPS time not used")
        return None
    return day + timedelta(microseconds=round((h * 3600 + m * 60 + s) * 1_000_000))


def geotag_jpeg(jpeg: bytes, *, lat: float, lon: float, alt: float | None, time_utc: datetime | None) -> bytes:
    """A copy of ``jpeg`` whose EXIF GPS IFD holds this position (and UTC time); the other EXIF tags are kept.

    Only the APP1 Exif segment is replaced (or inserted after SOI, or after a leading JFIF APP0): every other
    byte, the image data from SOS to EOI included, is unchanged. The EXIF is rewritten by ``piexif``, which keeps
    the tags it knows (all standard ones) and drops unknown private tags.
    """
    if not jpeg.startswith(b"\xff\xd8"):
        raise GeotagError("not a JPEG: cannot write a geotagged copy")
    try:
        span = _exif_span(BytesSource(jpeg))
    except MetadataFormatError as exc:
        raise GeotagError(f"the JPEG's structure cannot be read: {exc}") from exc
    exif = _load_for_edit(jpeg[span[0] + 4 : span[1]] if span else b"")
    exif["GPS"] = _gps_ifd(lat, lon, alt, time_utc)
    try:
        block: bytes = piexif.dump(exif)
    except (ValueError, struct.error, KeyError, TypeError, AttributeError) as exc:
        raise GeotagError(f"the EXIF cannot be rewritten: {exc}") from exc
    if len(block) > 65533:
        raise GeotagError(f"the rewritten EXIF ({len(block)} bytes) does not fit in one JPEG segment")
    segment = b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    start, end = span if span else (_insert_point(jpeg), _insert_point(jpeg))
    return jpeg[:start] + segment + jpeg[end:]


def _insert_point(jpeg: bytes) -> int:
    if jpeg[2:4] == b"\xff\xe0" and len(jpeg) >= 6:
        return min(len(jpeg), 4 + int.from_bytes(jpeg[4:6], "big"))
    return 2


def _load_for_edit(app1: bytes) -> dict[str, Any]:
    if not app1:
        return {"0th": {}, "Exif": {}, "GPS": {}, "Interop": {}, "1st": {}, "thumbnail": None}
    try:
        exif: dict[str, Any] = piexif.load(app1)
    except (ValueError, struct.error, KeyError, IndexError, TypeError) as exc:
        raise GeotagError(f"the JPEG's existing EXIF cannot be read, so it cannot be kept: {exc}") from exc
    return exif


def _gps_ifd(lat: float, lon: float, alt: float | None, time_utc: datetime | None) -> dict[int, Any]:
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise GeotagError(f"invalid position {lat}, {lon}")
    gps: dict[int, Any] = {
        0x0000: (2, 3, 0, 0),
        0x0001: b"S" if lat < 0 else b"N",
        0x0002: _dms(lat),
        0x0003: b"W" if lon < 0 else b"E",
        0x0004: _dms(lon),
        0x0012: b"WGS-84",
    }
    if alt is not None:
        if not math.isfinite(alt):
            raise GeotagError(f"invalid altitude {alt}")
        gps[0x0005], gps[0x0006] = (1 if alt < 0 else 0), (round(abs(alt) * 1000), 1000)
    if time_utc is not None:
        gps.update(_gps_stamp(time_utc))
    return gps


def _dms(value: float) -> tuple[tuple[int, int], ...]:
    ten_thousandths = round(abs(value) * 3600 * 10_000)  # of an arc-second: about 3 mm
    degrees, rest = divmod(ten_thousandths, 3600 * 10_000)
    minutes, seconds = divmod(rest, 60 * 10_000)
    return (degrees, 1), (minutes, 1), (seconds, 10_000)


def _gps_stamp(time_utc: datetime) -> dict[int, Any]:
    if time_utc.tzinfo is None or time_utc.utcoffset() is None:
        raise GeotagError("time_utc must be timezone-aware (local time must never be labelled as UTC)")
    t = time_utc.astimezone(UTC)
    stamp = ((t.hour, 1), (t.minute, 1), (t.second * 1_000_000 + t.microsecond, 1_000_000))
    return {0x0007: stamp, 0x001D: t.strftime("%Y:%m:%d").encode("ascii")}
