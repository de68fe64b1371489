"""read_exif on the real sample photos (../shared/testdata/exif): values checked against Pillow's own EXIF parse."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from evidence.metadata import ExifResult, read_exif
from evidence.metadata.media import read_media
from tests.conftest import _find_shared_dir
from tests.evidence.metadata import CountingReader

_SHARED = _find_shared_dir()
_EXIF = _SHARED / "testdata" / "exif" if _SHARED else Path("missing")
GPS_SAMPLES = sorted(_EXIF.glob("gps/*.jpg"))
BROKEN_SAMPLES = [*sorted(_EXIF.glob("invalid/*.jpg")), _EXIF / "corrupted.jpg"]


def _pillow_gps(path: Path) -> dict[int, Any]:
    with Image.open(path) as image:
        return dict(image.getexif().get_ifd(0x8825))


def _pillow_exif(path: Path) -> tuple[dict[int, object], dict[int, object]]:
    with Image.open(path) as image:
        exif = image.getexif()
        return dict(exif), dict(exif.get_ifd(0x8769))


def _degrees(parts: Sequence[Any], ref: object) -> float:
    value = sum(Fraction(p.numerator, p.denominator) / 60**i for i, p in enumerate(parts))
    return float(-value if ref in ("S", "W") else value)


def test_the_samples_are_there() -> None:
    assert len(GPS_SAMPLES) >= 9, f"GPS samples missing under {_EXIF}"
    assert len(BROKEN_SAMPLES) >= 8


@pytest.mark.parametrize("path", GPS_SAMPLES, ids=lambda p: p.name)
def test_gps_position_matches_an_independent_parse(path: Path) -> None:
    raw = _pillow_gps(path)
    with open(path, "rb") as stream:
        result = read_exif(stream)
    assert result.error is None
    assert result.info is not None
    assert result.info.gps is not None
    gps = result.info.gps
    assert gps.lat == pytest.approx(_degrees(raw[2], raw[1]), abs=1e-6)
    assert gps.lon == pytest.approx(_degrees(raw[4], raw[3]), abs=1e-6)
    assert 43 < gps.lat < 44
    assert 11 < gps.lon < 12
    assert gps.map_datum == "WGS-84"
    assert 6 not in raw
    assert gps.alt is None
    assert result.info.problems == ()


@pytest.mark.parametrize("path", GPS_SAMPLES, ids=lambda p: p.name)
def test_gps_time_keeps_fractional_seconds(path: Path) -> None:
    raw = _pillow_gps(path)
    hours, minutes, seconds = (Fraction(p.numerator, p.denominator) for p in raw[7])
    day = datetime.strptime(str(raw[29]), "%Y:%m:%d").replace(tzinfo=UTC)
    expected = day + timedelta(microseconds=round((hours * 3600 + minutes * 60 + seconds) * 1_000_000))
    with open(path, "rb") as stream:
        info = read_exif(stream).info
    assert info is not None
    assert info.gps is not None
    assert info.gps.time_utc == expected
    assert info.gps_time_utc == expected
    assert expected.tzinfo is UTC
    assert info.gps.time_utc.utcoffset() == timedelta(0)


def test_a_known_sample_in_full() -> None:
    with open(_EXIF / "gps" / "DSCN0010.jpg", "rb") as stream:
        info = read_exif(stream).info
    assert info is not None
    assert info.gps is not None
    assert info.gps.time_utc == datetime(2008, 10, 23, 14, 27, 7, 240000, tzinfo=UTC)
    assert info.camera_time == datetime(2008, 10, 22, 16, 28, 39)
    assert info.camera_time_tag == "DateTimeOriginal"
    assert info.camera_offset is None
    assert (info.make, info.model, info.serial) == ("NIKON", "COOLPIX P6000", None)


@pytest.mark.parametrize("path", GPS_SAMPLES, ids=lambda p: p.name)
def test_camera_time_and_identity(path: Path) -> None:
    ifd0, exif = _pillow_exif(path)
    with open(path, "rb") as stream:
        info = read_exif(stream).info
    assert info is not None
    assert info.camera_time == datetime.strptime(str(exif[0x9003]), "%Y:%m:%d %H:%M:%S")
    assert info.camera_time.tzinfo is None  # camera clock: local, never labelled UTC
    assert (info.make, info.model) == (str(ifd0[0x010F]).strip(), str(ifd0[0x0110]).strip())


@pytest.mark.parametrize("path", BROKEN_SAMPLES, ids=lambda p: p.name)
def test_broken_samples_return_a_result_reading_little(path: Path) -> None:
    with open(path, "rb") as raw:
        counting = CountingReader(raw)
        result = read_exif(counting.as_binary())
    assert isinstance(result, ExifResult)
    assert counting.bytes_read < 70_000  # segment headers and at most one APP1, never the whole file


def test_xmp_only_samples_have_no_exif() -> None:
    for path in BROKEN_SAMPLES[:-1]:
        with open(path, "rb") as stream:
            assert read_exif(stream) == ExifResult(None, None), path.name


def test_corrupted_sample_still_yields_its_camera() -> None:
    with open(_EXIF / "corrupted.jpg", "rb") as stream:
        result = read_exif(stream)
    assert result.error is None
    assert result.info is not None
    assert result.info.make == "OLYMPUS IMAGING CORP."
    assert result.info.camera_time == datetime(2015, 9, 8, 11, 2, 17)
    assert result.info.gps is None


@pytest.mark.parametrize("path", [*GPS_SAMPLES[:2], *BROKEN_SAMPLES], ids=lambda p: p.name)
def test_read_media_on_samples(path: Path) -> None:
    metadata = read_media(path)
    assert (metadata.media_type, metadata.kind, metadata.movie) == ("image/jpeg", "photo", None)
    assert metadata.exif is not None
    if path.name.startswith("DSCN"):
        assert metadata.filename is not None
        assert metadata.filename.pattern == "dcf"
        assert metadata.filename.sequence == int(path.stem[4:])
