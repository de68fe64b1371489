"""Sample evidence for the demo: a site photo with EXIF GPS, a CSV of monitor readings, a field note.

The place is the Luo River at Luoyang (Henan), where the demo's case is set; the camera clock is in China
Standard Time (+08:00) while the GPS time stamp is UTC, as real cameras write them.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import piexif
from PIL import Image, ImageDraw

CHINA = timezone(timedelta(hours=8))
SITE_LAT, SITE_LON, SITE_ALT = 34.6197, 112.4540, 141.0
CAPTURED = datetime(2026, 5, 12, 9, 41, 7, tzinfo=CHINA)


def write_samples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_photo(folder / "DSJ_20260512_094107_0001.jpg"),
        write_readings(folder / "readings_20260512.csv"),
        write_note(folder / "现场笔记.txt"),
    ]


def write_photo(path: Path) -> Path:
    image = Image.new("RGB", (640, 480))
    draw = ImageDraw.Draw(image)
    for y in range(480):  # a sky-to-water gradient, so the JPEG is not trivially compressible
        draw.line([(0, y), (640, y)], fill=(60 + y // 4, 110 + y // 6, 170 - y // 5))
    draw.rectangle([(220, 300), (420, 380)], fill=(90, 80, 60))  # an outfall pipe
    draw.text((20, 20), "fieldproof demo - outfall, Luo River", fill=(255, 255, 255))
    image.save(path, "JPEG", quality=90, exif=_exif())
    return path


def _exif() -> bytes:
    utc = CAPTURED.astimezone(UTC)
    zeroth = {piexif.ImageIFD.Make: b"fieldproof", piexif.ImageIFD.Model: b"DSJ-demo body camera"}
    exif = {
        piexif.ExifIFD.DateTimeOriginal: CAPTURED.strftime("%Y:%m:%d %H:%M:%S").encode(),
        piexif.ExifIFD.OffsetTimeOriginal: b"+08:00",
        piexif.ExifIFD.BodySerialNumber: b"DSJ0042",
    }
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: _dms(SITE_LAT),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: _dms(SITE_LON),
        piexif.GPSIFD.GPSAltitudeRef: 0,
        piexif.GPSIFD.GPSAltitude: (int(SITE_ALT * 10), 10),
        piexif.GPSIFD.GPSDateStamp: utc.strftime("%Y:%m:%d").encode(),
        piexif.GPSIFD.GPSTimeStamp: ((utc.hour, 1), (utc.minute, 1), (utc.second, 1)),
        piexif.GPSIFD.GPSMapDatum: b"WGS-84",
    }
    return bytes(piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps}))


def _dms(degrees: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    whole = int(degrees)
    minutes_float = (degrees - whole) * 60
    minutes = int(minutes_float)
    seconds = Fraction(round((minutes_float - minutes) * 60 * 1000), 1000)
    return (whole, 1), (minutes, 1), (seconds.numerator, seconds.denominator)


def write_readings(path: Path) -> Path:
    """Ten minutes of one-minute PM2.5 / PM10 readings from a portable dust monitor (HJ 212 codes)."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["device_time", "mn", "code", "value", "unit", "flag"])
        for minute in range(10):
            at = (CAPTURED + timedelta(minutes=minute)).isoformat()
            pm25, pm10 = 48 + minute * 9, 95 + minute * 14
            writer.writerow([at, "LYDUST0042", "a34004", pm25, "ug/m3", "N"])
            writer.writerow([at, "LYDUST0042", "a34002", pm10, "ug/m3", "N"])
    return path


def write_note(path: Path) -> Path:
    path.write_text(
        "2026年5月12日9时41分，检察人员二人在洛河某排污口现场勘查，"
        "使用便携式扬尘监测仪（编号 LYDUST0042）采样，执法记录仪全程录像。\n",
        encoding="utf-8",
    )
    return path
