"""Generated media for import tests: JPEGs with chosen EXIF (Pillow + piexif) and minimal MP4/MOV files."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import piexif
from PIL import Image

MP4_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01


def _rational(value: float, denominator: int = 1_000_000) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(denominator)
    return fraction.numerator, fraction.denominator


def _dms(degrees: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    magnitude = abs(degrees)
    whole = int(magnitude)
    minutes = int((magnitude - whole) * 60)
    seconds = (magnitude - whole - minutes / 60) * 3600
    return (whole, 1), (minutes, 1), _rational(seconds, 10_000)


def jpeg(
    path: Path,
    *,
    camera_time: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float, float | None] | None = None,
    gps_time: datetime | None = None,
    make: str = "Hikvision",
    model: str = "DSJ-T9",
    serial: str | None = "DSJ000123",
    seed: int = 0,
) -> Path:
    """A small real JPEG whose EXIF holds exactly what is asked."""
    exif: dict[str, dict[int, object]] = {
        "0th": {piexif.ImageIFD.Make: make.encode(), piexif.ImageIFD.Model: model.encode()},
        "Exif": {},
        "GPS": {},
    }
    if serial:
        exif["Exif"][piexif.ExifIFD.BodySerialNumber] = serial.encode()
    if camera_time is not None:
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = camera_time.strftime("%Y:%m:%d %H:%M:%S").encode()
        exif["Exif"][piexif.ExifIFD.SubSecTimeOriginal] = f"{camera_time.microsecond // 1000:03d}".encode()
    if offset is not None:
        exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    if gps is not None:
        exif["GPS"].update(_gps_tags(*gps))
    if gps_time is not None:
        exif["GPS"][piexif.GPSIFD.GPSDateStamp] = gps_time.strftime("%Y:%m:%d").encode()
        seconds = gps_time.second + gps_time.microsecond / 1e6
        exif["GPS"][piexif.GPSIFD.GPSTimeStamp] = ((gps_time.hour, 1), (gps_time.minute, 1), _rational(seconds, 1000))
    image = Image.new("RGB", (64, 48), ((seed * 37) % 256, (seed * 91) % 256, 120))
    image.save(path, "JPEG", exif=piexif.dump(exif))
    return path


def _gps_tags(lat: float, lon: float, alt: float | None) -> dict[int, object]:
    tags: dict[int, object] = {
        piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
        piexif.GPSIFD.GPSLatitude: _dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
        piexif.GPSIFD.GPSLongitude: _dms(lon),
        piexif.GPSIFD.GPSMapDatum: b"WGS-84",
    }
    if alt is not None:
        tags[piexif.GPSIFD.GPSAltitudeRef] = 0 if alt >= 0 else 1
        tags[piexif.GPSIFD.GPSAltitude] = _rational(abs(alt), 100)
    return tags


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(path: Path, *, created: datetime, location: str | None = None, brand: bytes = b"isom") -> Path:
    """A minimal MP4 (or MOV with brand b'qt  '): ftyp, then moov with an mvhd (version 0) and optional ©xyz."""
    seconds = int((created - datetime(1970, 1, 1)).total_seconds()) + MP4_EPOCH_OFFSET
    mvhd = bytes(4) + struct.pack(">IIII", seconds, seconds, 1000, 10_000) + bytes(80)
    children = _box(b"mvhd", mvhd)
    if location is not None:
        text = location.encode()
        xyz = struct.pack(">HH", len(text), 0x15C7) + text
        children += _box(b"udta", _box(b"\xa9xyz", xyz))
    data = _box(b"ftyp", brand + bytes(4) + brand) + _box(b"moov", children) + _box(b"mdat", bytes(256))
    path.write_bytes(data)
    return path


def camera_naive(moment: datetime, minutes_fast: float = 0.0) -> datetime:
    """What a camera's clock shows at ``moment`` (aware), in that moment's zone, ``minutes_fast`` ahead."""
    return (moment + timedelta(minutes=minutes_fast)).replace(tzinfo=None)
