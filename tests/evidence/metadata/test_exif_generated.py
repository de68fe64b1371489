"""read_exif on generated photos (Pillow + piexif, and hand-built TIFF): hemispheres, altitude, zones, odd values."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import piexif
import pytest
from PIL import Image

from evidence.metadata import ExifInfo, read_exif
from tests.evidence.metadata import ascii_entry, dms, jpeg_with_tiff, tiff

GPS = piexif.GPSIFD
EXIF = piexif.ExifIFD


def photo(
    gps: dict[int, Any] | None = None, exif: dict[int, Any] | None = None, zeroth: dict[int, Any] | None = None
) -> bytes:
    """A Pillow JPEG carrying the given EXIF, written by piexif (big-endian TIFF)."""
    ifd0 = {piexif.ImageIFD.Make: b"Acme", piexif.ImageIFD.Model: b"BWC-1", **(zeroth or {})}
    block = piexif.dump({"0th": ifd0, "Exif": exif or {}, "GPS": gps or {}})
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 30)).save(out, "JPEG", exif=block)
    return out.getvalue()


def read(data: bytes) -> ExifInfo:
    result = read_exif(io.BytesIO(data))
    assert result.error is None, result
    assert result.info is not None
    return result.info


def position(lat: float, lon: float, lat_ref: bytes | None = None, lon_ref: bytes | None = None) -> dict[int, Any]:
    gps: dict[int, Any] = {GPS.GPSLatitude: dms(lat), GPS.GPSLongitude: dms(lon)}
    if lat_ref is not None:
        gps[GPS.GPSLatitudeRef] = lat_ref
    if lon_ref is not None:
        gps[GPS.GPSLongitudeRef] = lon_ref
    return gps


@pytest.mark.parametrize(
    ("lat", "lon", "lat_ref", "lon_ref", "expected"),
    [
        (33.8688, 151.2093, b"S", b"E", (-33.8688, 151.2093)),  # Sydney
        (40.4168, 3.7038, b"N", b"W", (40.4168, -3.7038)),  # Madrid
        (22.9068, 43.1729, b"S", b"W", (-22.9068, -43.1729)),  # Rio de Janeiro
        (34.6197, 112.4540, b"N", b"E", (34.6197, 112.4540)),  # Luoyang
    ],
)
def test_hemispheres(lat: float, lon: float, lat_ref: bytes, lon_ref: bytes, expected: tuple[float, float]) -> None:
    gps = read(photo(position(lat, lon, lat_ref, lon_ref))).gps
    assert gps is not None
    assert (gps.lat, gps.lon) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("ref", "sign"), [(1, -1), (0, 1)])
def test_altitude_reference(ref: int, sign: int) -> None:
    tags = position(31.5, 35.4, b"N", b"E") | {GPS.GPSAltitudeRef: ref, GPS.GPSAltitude: (430500, 1000)}
    gps = read(photo(tags)).gps  # the Dead Sea shore is 430.5 m below sea level
    assert gps is not None
    assert gps.alt == sign * 430.5


def test_missing_altitude_ref_is_taken_as_above_sea_level_and_noted() -> None:
    info = read(photo(position(31.5, 35.4, b"N", b"E") | {GPS.GPSAltitude: (141, 1)}))
    assert info.gps is not None
    assert info.gps.alt == 141.0
    assert any("GPSAltitudeRef missing" in p for p in info.problems)


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "missing"), [(None, b"E", "GPSLatitudeRef"), (b"N", None, "GPSLongitudeRef")]
)
def test_missing_hemisphere_makes_position_unusable(lat_ref: bytes | None, lon_ref: bytes | None, missing: str) -> None:
    info = read(photo(position(34.6, 112.4, lat_ref, lon_ref)))
    assert info.gps is None
    assert any(p.startswith(f"{missing} missing") and "position not used" in p for p in info.problems)


def test_invalid_hemisphere_letter_is_refused() -> None:
    info = read(photo(position(34.6, 112.4, b"X", b"E")))
    assert info.gps is None
    assert any("'X' is not N or S" in p for p in info.problems)


@pytest.mark.parametrize(
    ("tag", "value", "unusable"),
    [
        (GPS.GPSLatitude, [(34, 1), (30, 0), (0, 1)], "position"),
        (GPS.GPSLongitude, [(112, 0), (0, 1), (0, 1)], "position"),
        (GPS.GPSAltitude, (141, 0), "altitude"),
        (GPS.GPSTimeStamp, [(9, 1), (41, 1), (7, 0)], "GPS time"),
    ],
)
def test_zero_denominators_are_named_not_divided(tag: int, value: object, unusable: str) -> None:
    tags = position(34.5, 112.0, b"N", b"E") | {GPS.GPSDateStamp: b"2026:05:12", GPS.GPSTimeStamp: [(1, 1)] * 3}
    tags |= {GPS.GPSAltitudeRef: 0, GPS.GPSAltitude: (141, 1), tag: value}
    info = read(photo(tags))
    assert any("zero denominator" in p and f"{unusable} not used" in p for p in info.problems), info.problems
    if unusable == "position":
        assert info.gps is None
        assert info.gps_time_utc is not None
    else:
        assert info.gps is not None
        assert info.gps.lat == pytest.approx(34.5)


def test_gps_time_needs_its_date() -> None:
    info = read(photo(position(34.5, 112.0, b"N", b"E") | {GPS.GPSTimeStamp: [(9, 1), (41, 1), (7250, 1000)]}))
    assert info.gps is not None
    assert info.gps.time_utc is None
    assert any("GPSDateStamp missing" in p for p in info.problems)


def test_gps_time_with_date_is_utc_with_microseconds() -> None:
    tags = position(34.5, 112.0, b"N", b"E") | {GPS.GPSTimeStamp: [(1, 1), (41, 1), (7123456, 1000000)]}
    info = read(photo(tags | {GPS.GPSDateStamp: b"2026:05:12"}))
    assert info.gps is not None
    assert info.gps.time_utc == datetime(2026, 5, 12, 1, 41, 7, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "lat", "lon", "expected"),
    [(b"V", 34.5, 112.0, "GPSStatus is V"), (b"A", 0.0, 0.0, "exactly 0°, 0°")],
)
def test_no_fix_positions_are_not_used(status: bytes, lat: float, lon: float, expected: str) -> None:
    info = read(photo(position(lat, lon, b"N", b"E") | {GPS.GPSStatus: status}))
    assert info.gps is None
    assert any(expected in p for p in info.problems)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(b"+08:00", timedelta(hours=8)), (b"-05:30", -timedelta(hours=5, minutes=30)), (None, None)],
)
def test_offset_time_original(offset: bytes | None, expected: timedelta | None) -> None:
    exif = {EXIF.DateTimeOriginal: b"2026:05:12 09:41:07", EXIF.SubSecTimeOriginal: b"25"}
    if offset is not None:
        exif[EXIF.OffsetTimeOriginal] = offset
    info = read(photo(exif=exif))
    assert info.camera_time == datetime(2026, 5, 12, 9, 41, 7, 250000)
    assert (info.camera_time_tag, info.camera_offset) == ("DateTimeOriginal", expected)
    assert info.problems == ()


def test_offset_time_is_a_noted_fallback() -> None:
    exif = {EXIF.DateTimeOriginal: b"2026:05:12 09:41:07", EXIF.OffsetTime: b"+08:00"}
    info = read(photo(exif=exif))
    assert info.camera_offset == timedelta(hours=8)
    assert any("zone taken from OffsetTime" in p for p in info.problems)


@pytest.mark.parametrize("bad", [b"+8", b"08:00", b"+25:00", b"   :  "])
def test_malformed_offsets_are_ignored_and_noted(bad: bytes) -> None:
    info = read(photo(exif={EXIF.DateTimeOriginal: b"2026:05:12 09:41:07", EXIF.OffsetTimeOriginal: bad}))
    assert info.camera_offset is None
    assert any("OffsetTimeOriginal" in p for p in info.problems)


def test_subsec_is_microseconds_and_long_values_are_cut() -> None:
    exif = {EXIF.DateTimeOriginal: b"2026:05:12 09:41:07", EXIF.SubSecTimeOriginal: b"1234567"}
    assert read(photo(exif=exif)).camera_time == datetime(2026, 5, 12, 9, 41, 7, 123456)


def test_blank_original_falls_back_to_digitized_then_datetime() -> None:
    blank = {EXIF.DateTimeOriginal: b"    :  :     :  :  "}
    digitized = read(photo(exif=blank | {EXIF.DateTimeDigitized: b"2026:05:12 09:41:08"}))
    assert (digitized.camera_time_tag, digitized.camera_time) == ("DateTimeDigitized", datetime(2026, 5, 12, 9, 41, 8))
    modified = read(photo(exif=blank, zeroth={piexif.ImageIFD.DateTime: b"2026:05:12 09:41:09"}))
    assert (modified.camera_time_tag, modified.camera_time) == ("DateTime", datetime(2026, 5, 12, 9, 41, 9))
    assert any("taken from DateTime" in p for p in modified.problems)
    assert any("DateTimeOriginal" in p and "blank" in p for p in modified.problems)
    assert read(photo()).camera_time_tag is None


def test_invalid_calendar_date_is_ignored() -> None:
    info = read(photo(exif={EXIF.DateTimeOriginal: b"2026:02:30 09:41:07"}))
    assert info.camera_time is None
    assert any("not a valid date" in p for p in info.problems)


def test_serial_numbers() -> None:
    assert read(photo(exif={EXIF.BodySerialNumber: b"SN-0042  "})).serial == "SN-0042"
    dng = tiff(">", [ascii_entry(0xC62F, "CAM-7")])
    assert read(jpeg_with_tiff(dng)).serial == "CAM-7"


@pytest.mark.parametrize("order", ["<", ">"])
def test_both_byte_orders_from_hand_built_tiff(order: str) -> None:
    block = tiff(
        order,
        ifd0=[ascii_entry(0x010F, "Hytera"), ascii_entry(0x0110, "VM780")],
        exif=[ascii_entry(0x9003, "2026:05:12 09:41:07"), ascii_entry(0x9011, "+08:00"), ascii_entry(0xA431, "77")],
        gps=[
            ascii_entry(1, "S"),
            (2, 5, dms(12.5)),
            ascii_entry(3, "W"),
            (4, 5, dms(77.25)),
            (5, 1, [1]),
            (6, 5, [(25, 10)]),
            (7, 5, [(23, 1), (59, 1), (59999999, 1000000)]),
            ascii_entry(18, "WGS-84"),
            ascii_entry(29, "2026:05:11"),
        ],
    )
    info = read(jpeg_with_tiff(block))
    assert (info.make, info.model, info.serial, info.camera_offset) == ("Hytera", "VM780", "77", timedelta(hours=8))
    assert info.gps is not None
    assert (info.gps.lat, info.gps.lon, info.gps.alt) == pytest.approx((-12.5, -77.25, -2.5))
    assert info.gps.time_utc == datetime(2026, 5, 11, 23, 59, 59, 999999, tzinfo=UTC)


def test_signed_rational_coordinates_out_of_range_are_refused() -> None:
    block = tiff("<", gps=[ascii_entry(1, "N"), (2, 10, [(-34, 1)]), ascii_entry(3, "E"), (4, 10, [(200, 1)])])
    info = read(jpeg_with_tiff(block))
    assert info.gps is None
    assert any("out of range" in p for p in info.problems)


def test_gbk_make_is_decoded() -> None:
    block = tiff("<", [(0x010F, 2, "警翼".encode("gb18030") + b"\x00")])
    assert read(jpeg_with_tiff(block)).make == "警翼"


def test_tiff_file_is_read_directly() -> None:
    block = tiff(">", [ascii_entry(0x010F, "Acme")], gps=[ascii_entry(1, "N"), (2, 5, dms(1.5))])
    info = read(block)
    assert info.make == "Acme"
    assert info.gps is None
    assert any("GPSLongitude is missing" in p for p in info.problems)
