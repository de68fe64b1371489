"""Damaged and hostile EXIF never raises from read_exif: it is unreadable with a reason, or read in part."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.metadata import ExifResult, read_exif
from evidence.metadata.exif import read_exif_block
from evidence.metadata.isobmff import BoundedReader, MetadataFormatError
from tests.evidence.metadata import EXIF_POINTER, GPS_POINTER, app1, ascii_entry, dms, jpeg_with_tiff, tiff

PROPERTY = settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
GOOD_TIFF = tiff(
    "<",
    [ascii_entry(0x010F, "Acme"), ascii_entry(0x0110, "BWC-1")],
    exif=[ascii_entry(0x9003, "2026:05:12 09:41:07"), ascii_entry(0x9291, "25"), ascii_entry(0x9011, "+08:00")],
    gps=[
        ascii_entry(1, "N"),
        (2, 5, dms(34.6)),
        ascii_entry(3, "E"),
        (4, 5, dms(112.4)),
        ascii_entry(29, "2026:05:12"),
    ],
)
GOOD_JPEG = jpeg_with_tiff(GOOD_TIFF)


def exif_of(data: bytes) -> ExifResult:
    return read_exif(io.BytesIO(data))


def test_the_good_block_is_good() -> None:
    result = exif_of(GOOD_JPEG)
    assert result.info is not None
    assert result.info.gps is not None
    assert result.info.problems == ()


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (b"II*\x00" + struct.pack("<I", 0xFFFFFF00), "IFD0 at offset 4294967040 is unreadable"),
        (b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 0xFFFF) + b"\x00" * 24, "IFD0 at offset 8 is unreadable"),
        (b"II+\x00\x08\x00\x00\x00", "magic 43"),
        (b"XX*\x00\x08\x00\x00\x00", "no TIFF header"),
        (b"II*", "no TIFF header"),
        (b"", "no TIFF header"),
    ],
)
def test_unreadable_ifd0_makes_the_block_unreadable(block: bytes, reason: str) -> None:
    result = exif_of(b"\xff\xd8" + app1(block) + b"\xff\xd9")
    assert result.info is None
    assert result.error is not None
    assert reason in result.error


def test_sub_ifd_pointing_back_to_ifd0_is_refused_but_ifd0_kept() -> None:
    block = tiff("<", [ascii_entry(0x010F, "Acme"), (EXIF_POINTER, 4, [8]), (GPS_POINTER, 4, [8])])
    result = exif_of(jpeg_with_tiff(block))
    assert result.info is not None
    assert result.info.make == "Acme"
    assert sum("points back to an IFD already read" in p for p in result.info.problems) == 2


def test_two_pointers_to_one_ifd_read_it_once() -> None:
    block = bytearray(tiff("<", [ascii_entry(0x010F, "Acme"), (GPS_POINTER, 4, [0])], exif=[ascii_entry(0x9003, "x")]))
    exif_field = block.index(struct.pack("<HHI", EXIF_POINTER, 4, 1)) + 8
    gps_field = block.index(struct.pack("<HHI", GPS_POINTER, 4, 1)) + 8
    block[gps_field : gps_field + 4] = block[exif_field : exif_field + 4]
    result = exif_of(jpeg_with_tiff(bytes(block)))
    assert result.info is not None
    assert any("GPS IFD points back" in p for p in result.info.problems)


def test_pointer_of_tiff_type_ifd_is_followed() -> None:
    block = bytearray(tiff("<", [ascii_entry(0x010F, "Acme")], exif=[ascii_entry(0x9003, "2026:05:12 09:41:07")]))
    at = block.index(struct.pack("<HHI", EXIF_POINTER, 4, 1))
    block[at : at + 4] = struct.pack("<HH", EXIF_POINTER, 13)  # TIFF type 13: IFD offset
    result = exif_of(jpeg_with_tiff(bytes(block)))
    assert result.info is not None
    assert result.info.camera_time_tag == "DateTimeOriginal"


@pytest.mark.parametrize("pointer", [EXIF_POINTER, GPS_POINTER])
def test_sub_ifd_past_the_end_is_ignored_with_a_problem(pointer: int) -> None:
    result = exif_of(jpeg_with_tiff(tiff(">", [ascii_entry(0x010F, "Acme"), (pointer, 4, [0x7FFFFFF0])])))
    assert result.info is not None
    assert result.info.make == "Acme"
    assert any("is unreadable" in p and "ignored" in p for p in result.info.problems)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (struct.pack("<HHI", 0x010F, 2, 40) + struct.pack("<I", 0xFFFFFF00), "Make value is out of bounds"),
        (struct.pack("<HHI", 0x010F, 2, 0x7FFFFFFF) + struct.pack("<I", 26), "Make claims 2147483647 values"),
        (struct.pack("<HHI", 0x010F, 99, 4) + b"Acme", "Make has unknown type 99"),
    ],
)
def test_a_damaged_tag_is_skipped_and_named(entry: bytes, problem: str) -> None:
    block = b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 1) + entry + b"\x00" * 4
    result = exif_of(jpeg_with_tiff(block))
    assert result.info is not None
    assert result.info.make is None
    assert any(problem in p for p in result.info.problems), result.info.problems


def test_wrongly_typed_gps_latitude_is_unusable() -> None:
    block = tiff("<", gps=[ascii_entry(1, "N"), ascii_entry(2, "34.5"), ascii_entry(3, "E"), (4, 5, dms(112.4))])
    result = exif_of(jpeg_with_tiff(block))
    assert result.info is not None
    assert result.info.gps is None
    assert any("GPSLatitude is not a rational" in p for p in result.info.problems)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xd8" + b"\xff\xe1\x10\x00Exif\x00\x00II*\x00", "APP1 Exif segment at offset 2 runs past the end"),
        (b"\xff\xd8\x00\x00\x00\x00", "no marker at offset 2"),
        (b"\xff\xd8\xff\xe0\x00\x01", "declares length 1"),
        (b"\xff\xd8" + b"\xff" * 200, "fill bytes"),
        (b"\xff\xd8" + b"\xff\xfe\x00\x02" * 1100, "more than 1024 JPEG segments"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "run past the end"),
        (b"\xff\xd8\xff\xe1\x00", "run past the end"),
        (b"\xff\xd8", "run past the end"),
    ],
)
def test_broken_jpeg_structure_is_unreadable_with_a_reason(data: bytes, reason: str) -> None:
    result = exif_of(data)
    assert result.info is None, result
    assert result.error is not None
    assert reason in result.error


def test_no_exif_before_the_image_data() -> None:
    assert exif_of(b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02" + b"\x00" * 10) == ExifResult(None, None)
    assert exif_of(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20) == ExifResult(None, None)
    assert exif_of(b"") == ExifResult(None, None)


def test_restart_and_fill_markers_are_stepped_over() -> None:
    data = b"\xff\xd8\xff\xff\xff\xd0" + b"\xff\x01" + jpeg_with_tiff(GOOD_TIFF)[2:]
    result = exif_of(data)
    assert result.info is not None
    assert result.info.make == "Acme"


def test_the_read_budget_is_enforced() -> None:
    reader = BoundedReader(io.BytesIO(bytes(1000)), budget=100, max_reads=5)
    reader.read_at(0, 100)
    with pytest.raises(MetadataFormatError, match="budget"):
        reader.read_at(100, 1)
    reader = BoundedReader(io.BytesIO(bytes(1000)), budget=10_000, max_reads=3)
    for _ in range(3):
        reader.read_at(0, 1)
    with pytest.raises(MetadataFormatError, match="budget"):
        reader.read_at(0, 1)


@PROPERTY
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert isinstance(exif_of(data), ExifResult)
    assert isinstance(exif_of(b"\xff\xd8" + data), ExifResult)
    assert isinstance(read_exif_block(data), ExifResult)


@PROPERTY
@given(st.data())
def test_mutated_jpeg_never_raises(data: st.DataObject) -> None:
    raw = bytearray(GOOD_JPEG[:1024])
    for _ in range(data.draw(st.integers(1, 12))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(2, len(raw)))
    result = exif_of(bytes(raw[:cut]))
    assert isinstance(result, ExifResult)
    assert result.info is None or result.error is None


@PROPERTY
@given(st.data())
def test_mutated_tiff_never_raises(data: st.DataObject) -> None:
    raw = bytearray(GOOD_TIFF)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from([0, 1, 2, 5, 10, 0x7F, 0xFF, raw[position] ^ 0x80]))
    result = read_exif_block(bytes(raw))
    assert isinstance(result, ExifResult)
    if result.info is not None and result.info.gps is not None:
        assert abs(result.info.gps.lat) <= 90
        assert abs(result.info.gps.lon) <= 180
