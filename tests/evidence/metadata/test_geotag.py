"""geotag_jpeg: a derived copy with GPS in its EXIF; the image data bytes and the other EXIF stay as they were."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from evidence.errors import InputError
from evidence.metadata import ExifInfo, GeotagError, geotag_jpeg, read_exif
from tests.evidence.metadata import pillow_jpeg, scan_data

WHEN = datetime(2026, 5, 12, 1, 41, 7, 250000, tzinfo=UTC)


def exif_info(data: bytes) -> ExifInfo:
    result = read_exif(io.BytesIO(data))
    assert result.error is None, result
    assert result.info is not None
    return result.info


@pytest.fixture
def nikon(testdata: Path) -> bytes:
    return (testdata / "exif" / "gps" / "DSCN0010.jpg").read_bytes()


def test_sample_photo_gets_new_gps_and_keeps_the_rest(nikon: bytes) -> None:
    before = exif_info(nikon)
    copy = geotag_jpeg(nikon, lat=-33.8688, lon=-70.6693, alt=-12.5, time_utc=WHEN)
    after = exif_info(copy)
    assert after.gps is not None
    assert (after.gps.lat, after.gps.lon, after.gps.alt) == pytest.approx((-33.8688, -70.6693, -12.5), abs=1e-6)
    assert after.gps.time_utc == WHEN
    assert after.gps.map_datum == "WGS-84"
    assert (after.make, after.model, after.camera_time) == (before.make, before.model, before.camera_time)
    assert after.problems == ()


def test_image_data_is_byte_identical(nikon: bytes) -> None:
    copy = geotag_jpeg(nikon, lat=34.6197, lon=112.454, alt=141.0, time_utc=WHEN)
    assert copy != nikon
    assert scan_data(copy) == scan_data(nikon)
    assert copy.endswith(b"\xff\xd9")
    assert nikon.endswith(b"\xff\xd9")


def test_only_the_exif_segment_changes(nikon: bytes) -> None:
    copy = geotag_jpeg(nikon, lat=34.6197, lon=112.454, alt=None, time_utc=None)
    old_end = 4 + int.from_bytes(nikon[4:6], "big")
    new_end = 4 + int.from_bytes(copy[4:6], "big")
    assert copy[:4] == nikon[:4] == b"\xff\xd8\xff\xe1"
    assert copy[new_end:] == nikon[old_end:]


def test_jpeg_without_exif_gets_one_after_its_jfif_header() -> None:
    original = pillow_jpeg()
    assert original[2:4] == b"\xff\xe0"
    assert read_exif(io.BytesIO(original)).info is None
    copy = geotag_jpeg(original, lat=22.5431, lon=114.0579, alt=None, time_utc=None)
    jfif_end = 4 + int.from_bytes(original[4:6], "big")
    assert copy[:jfif_end] == original[:jfif_end]  # the JFIF APP0 segment is kept, first
    assert copy[jfif_end : jfif_end + 2] == b"\xff\xe1"
    assert scan_data(copy) == scan_data(original)
    info = exif_info(copy)
    assert info.gps is not None
    assert (info.gps.lat, info.gps.lon) == pytest.approx((22.5431, 114.0579), abs=1e-6)
    assert info.gps.alt is None
    assert info.gps.time_utc is None
    with Image.open(io.BytesIO(copy)) as image, Image.open(io.BytesIO(original)) as reference:
        assert image.tobytes() == reference.tobytes()


def test_bare_jpeg_gets_exif_right_after_soi() -> None:
    original = pillow_jpeg()
    bare = b"\xff\xd8" + original[4 + int.from_bytes(original[4:6], "big") :]
    copy = geotag_jpeg(bare, lat=1.0, lon=2.0, alt=3.0, time_utc=None)
    assert copy[2:4] == b"\xff\xe1"
    assert scan_data(copy) == scan_data(bare)


def test_existing_gps_is_replaced_not_merged(nikon: bytes) -> None:
    once = geotag_jpeg(nikon, lat=10.0, lon=20.0, alt=5.0, time_utc=WHEN)
    twice = geotag_jpeg(once, lat=-10.0, lon=-20.0, alt=None, time_utc=None)
    gps = exif_info(twice).gps
    assert gps is not None
    assert (gps.lat, gps.lon, gps.alt, gps.time_utc) == (-10.0, -20.0, None, None)


def test_time_is_converted_to_utc() -> None:
    beijing = WHEN.astimezone(timezone(timedelta(hours=8)))
    gps = exif_info(geotag_jpeg(pillow_jpeg(), lat=1.0, lon=2.0, alt=None, time_utc=beijing)).gps
    assert gps is not None
    assert gps.time_utc == WHEN


@pytest.mark.parametrize(
    ("jpeg", "kwargs", "message"),
    [
        (b"\x89PNG\r\n\x1a\n", {}, "not a JPEG"),
        (b"\xff\xd8\x00\x00", {}, "structure cannot be read"),
        (None, {"time_utc": datetime(2026, 5, 12, 9, 41)}, "timezone-aware"),
        (None, {"lat": 91.0}, "invalid position"),
        (None, {"lon": math.nan}, "invalid position"),
        (None, {"alt": math.inf}, "invalid altitude"),
    ],
)
def test_refusals(jpeg: bytes | None, kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"lat": 1.0, "lon": 2.0, "alt": None, "time_utc": None} | kwargs
    with pytest.raises(GeotagError, match=message) as caught:
        geotag_jpeg(jpeg or pillow_jpeg(), **arguments)  # type: ignore[arg-type]
    assert isinstance(caught.value, InputError)


@settings(deadline=None, max_examples=150)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    alt=st.none() | st.floats(-500, 9000),
    when=st.datetimes(datetime(1990, 1, 1), datetime(2099, 12, 31)),
)
def test_round_trip(lat: float, lon: float, alt: float | None, when: datetime) -> None:
    original = pillow_jpeg()
    copy = geotag_jpeg(original, lat=lat, lon=lon, alt=alt, time_utc=when.replace(tzinfo=UTC))
    assert scan_data(copy) == scan_data(original)
    info = exif_info(copy)
    if round(abs(lat) * 36e6) == 0 and round(abs(lon) * 36e6) == 0:  # 1e-4 arc-second steps
        assert info.gps is None  # exactly 0°, 0° reads back as "no fix"
        return
    assert info.gps is not None
    assert info.gps.lat == pytest.approx(lat, abs=1e-6)
    assert info.gps.lon == pytest.approx(lon, abs=1e-6)
    assert info.gps.alt == (None if alt is None else pytest.approx(alt, abs=1e-3))
    assert info.gps.time_utc == when.replace(tzinfo=UTC)
