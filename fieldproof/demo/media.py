"""A body camera's card for the demo: JPEGs with EXIF GPS and a video, from a camera whose clock is off.

The camera's clock runs ``CLOCK_FAST_MIN`` minutes fast (its EXIF DateTimeOriginal) while the GPS time in the same
EXIF is right, so the import measures the offset; one file number is missing (a withheld or deleted file) and one
photo was taken away from the site (outside its geofence).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import piexif
from PIL import Image

CHINA = ZoneInfo("Asia/Shanghai")
SITE = (34.6197, 112.4540, 141.0)  # the discharge point on the Luo river (the GPS simulator's place)
AWAY = (34.6352, 112.4781, 150.0)  # about 2.8 km north-east: outside the site's geofence
CLOCK_FAST_MIN = 7.0
FIRST_SHOT = datetime(2026, 5, 12, 1, 41, 7, tzinfo=UTC)
MP4_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01
PHOTO_NUMBERS = (101, 102, 103, 105, 106)  # 104 is missing from the card
AWAY_NUMBER = 106
VIDEO_NUMBER = 107


def write_camera_card(root: Path) -> Path:
    """Write the card's DCIM tree under ``root``; returns the DCIM folder."""
    folder = root / "DCIM" / "100HIKVS"
    folder.mkdir(parents=True, exist_ok=True)
    for n, number in enumerate(PHOTO_NUMBERS):
        taken = FIRST_SHOT + timedelta(minutes=2 * n)
        place = AWAY if number == AWAY_NUMBER else SITE
        _jpeg(folder / f"IMG_{number:04d}.JPG", taken=taken, place=place, seed=number)
    filmed = FIRST_SHOT + timedelta(minutes=2 * len(PHOTO_NUMBERS))
    _mp4(folder / f"VID_{VIDEO_NUMBER:04d}.MP4", created=filmed, place=SITE)
    return root / "DCIM"


def _camera_clock(moment: datetime) -> datetime:
    """What the camera's clock shows (China time, no zone, running fast)."""
    return (moment.astimezone(CHINA) + timedelta(minutes=CLOCK_FAST_MIN)).replace(tzinfo=None)


def _rational(value: float, denominator: int = 1_000_000) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(denominator)
    return fraction.numerator, fraction.denominator


def _dms(degrees: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    magnitude = abs(degrees)
    whole = int(magnitude)
    minutes = int((magnitude - whole) * 60)
    seconds = (magnitude - whole - minutes / 60) * 3600
    return (whole, 1), (minutes, 1), _rational(seconds, 10_000)


def _jpeg(path: Path, *, taken: datetime, place: tuple[float, float, float], seed: int) -> None:
    lat, lon, alt = place
    shown = _camera_clock(taken)
    gps_time = taken.astimezone(UTC)
    exif: dict[str, dict[int, object]] = {
        "0th": {piexif.ImageIFD.Make: b"Hikvision", piexif.ImageIFD.Model: b"DSJ-T9"},
        "Exif": {
            piexif.ExifIFD.BodySerialNumber: b"DSJ000123",
            piexif.ExifIFD.DateTimeOriginal: shown.strftime("%Y:%m:%d %H:%M:%S").encode(),
            piexif.ExifIFD.SubSecTimeOriginal: b"000",
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _dms(lon),
            piexif.GPSIFD.GPSMapDatum: b"WGS-84",
            piexif.GPSIFD.GPSAltitudeRef: 0,
            piexif.GPSIFD.GPSAltitude: _rational(alt, 100),
            piexif.GPSIFD.GPSDateStamp: gps_time.strftime("%Y:%m:%d").encode(),
            piexif.GPSIFD.GPSTimeStamp: ((gps_time.hour, 1), (gps_time.minute, 1), (gps_time.second, 1)),
        },
    }
    image = Image.new("RGB", (160, 120), ((seed * 37) % 256, (seed * 91) % 256, 120))
    image.save(path, "JPEG", exif=piexif.dump(exif))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4(path: Path, *, created: datetime, place: tuple[float, float, float]) -> None:
    """A minimal MP4: ftyp, moov with an mvhd (the camera's clock) and an ISO 6709 ©xyz place, and some mdat."""
    shown = _camera_clock(created)
    seconds = int((shown - datetime(1970, 1, 1)).total_seconds()) + MP4_EPOCH_OFFSET
    mvhd = bytes(4) + struct.pack(">IIII", seconds, seconds, 1000, 10_000) + bytes(80)
    text = f"{place[0]:+08.4f}{place[1]:+09.4f}/".encode()
    xyz = struct.pack(">HH", len(text), 0x15C7) + text
    children = _box(b"mvhd", mvhd) + _box(b"udta", _box(b"\xa9xyz", xyz))
    data = _box(b"ftyp", b"isom" + bytes(4) + b"isom") + _box(b"moov", children) + _box(b"mdat", bytes(4096))
    path.write_bytes(data)
