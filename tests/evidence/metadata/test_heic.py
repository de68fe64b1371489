"""EXIF from HEIF/HEIC: the Exif item found through meta/iinf and meta/iloc, in hand-built files."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.metadata import ExifResult, exif_block_from_heif, read_exif, read_media
from tests.evidence.metadata import ascii_entry, box, dms, full_box, tiff

PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
TIFF = tiff(
    ">",
    [ascii_entry(0x010F, "Apple"), ascii_entry(0x0110, "iPhone 15")],
    exif=[ascii_entry(0x9003, "2026:05:12 09:41:07"), ascii_entry(0x9011, "+08:00")],
    gps=[ascii_entry(1, "N"), (2, 5, dms(22.5431)), ascii_entry(3, "E"), (4, 5, dms(114.0579))],
)
FTYP = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
IMAGE = b"\x00\x00\x00\x10fake-hevc-tile!!"


def infe(version: int, item_id: int, item_type: bytes) -> bytes:
    ident = struct.pack(">H", item_id) if version == 2 else struct.pack(">I", item_id)
    return full_box(b"infe", version, ident + b"\x00\x00" + item_type + b"\x00")


def iloc(version: int, items: list[tuple[int, int, int, int]]) -> bytes:
    """items: (item id, construction method, offset, length); 4-byte offsets and lengths, no base offset."""
    wide = version == 2
    body = bytes([0x44, 0x00]) + (struct.pack(">I", len(items)) if wide else struct.pack(">H", len(items)))
    for item_id, method, offset, length in items:
        body += struct.pack(">I", item_id) if wide else struct.pack(">H", item_id)
        body += struct.pack(">H", method) if version else b""
        body += struct.pack(">HHII", 0, 1, offset, length)
    return full_box(b"iloc", version, body)


def heic(
    payload: bytes | None = b"\x00\x00\x00\x00" + TIFF, *, version: int = 0, in_idat: bool = False, method: int = 0
) -> bytes:
    """A HEIC: ftyp, meta (hdlr, pitm, iloc, iinf[, idat]) and mdat holding the image item and the Exif item."""
    infe_version = 3 if version == 2 else 2
    entries = [infe(infe_version, 1, b"hvc1")] + ([infe(infe_version, 2, b"Exif")] if payload is not None else [])
    count = struct.pack(">I" if infe_version == 3 else ">H", len(entries))
    iinf = full_box(b"iinf", 1 if infe_version == 3 else 0, count + b"".join(entries))
    head = box(b"hdlr", b"\x00" * 8 + b"pict" + b"\x00" * 13) + full_box(b"pitm", 0, b"\x00\x01")
    exif = payload or b""
    idat = box(b"idat", exif) if in_idat else b""

    def meta(exif_at: int, image_at: int) -> bytes:
        items = [(1, 0, image_at, len(IMAGE)), (2, method or int(in_idat), exif_at, len(exif))]
        return full_box(b"meta", 0, head + iloc(version, items[: 1 + (payload is not None)]) + iinf + idat)

    size = len(meta(0, 0))
    image_at = len(FTYP) + size + 8
    exif_at = 0 if in_idat else image_at + len(IMAGE)
    return FTYP + meta(exif_at, image_at) + box(b"mdat", IMAGE + (b"" if in_idat else exif))


def exif_of(data: bytes) -> ExifResult:
    return read_exif(io.BytesIO(data))


@pytest.mark.parametrize(("version", "in_idat"), [(0, False), (1, False), (1, True), (2, False), (2, True)])
def test_exif_item_is_found(version: int, in_idat: bool) -> None:
    data = heic(version=version, in_idat=in_idat)
    assert exif_block_from_heif(io.BytesIO(data)) == TIFF
    result = exif_of(data)
    assert result.error is None
    assert result.info is not None
    assert (result.info.make, result.info.model) == ("Apple", "iPhone 15")
    assert result.info.gps is not None
    assert result.info.gps.lat == pytest.approx(22.5431, abs=1e-6)


def test_payload_with_exif_prefix_and_header_offset() -> None:
    assert exif_block_from_heif(io.BytesIO(heic(b"\x00\x00\x00\x06Exif\x00\x00" + TIFF))) == TIFF
    assert exif_block_from_heif(io.BytesIO(heic(b"\x00\x00\x00\x00Exif\x00\x00" + TIFF))) == TIFF


def test_heic_without_exif_item() -> None:
    data = heic(None)
    assert exif_block_from_heif(io.BytesIO(data)) is None
    assert exif_of(data) == ExifResult(None, None)
    assert exif_of(FTYP + box(b"mdat", IMAGE)) == ExifResult(None, None)  # no meta box at all


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (heic(method=2, version=1), "construction method 2"),
        (heic(b"\x00\x00\x00\xffshort"), "TIFF header offset points past its end"),
        (heic(b"\x00\x00"), "shorter than its 4-byte header"),
        (heic()[:-40], "run past the end"),
        (heic(b""), "empty, of unspecified length"),
    ],
)
def test_broken_exif_items_are_unreadable_with_a_reason(data: bytes, reason: str) -> None:
    result = exif_of(data)
    assert result.info is None, result
    assert result.error is not None
    assert reason in result.error


def test_extent_flood_is_capped() -> None:
    body = bytes([0x00, 0x00]) + struct.pack(">H", 1) + struct.pack(">HHH", 2, 0, 0xFFFF)  # zero-size fields
    flood = full_box(b"iloc", 0, body)
    meta = full_box(b"meta", 0, flood + full_box(b"iinf", 0, b"\x00\x01" + infe(2, 2, b"Exif")))
    result = exif_of(FTYP + meta)
    assert result.error is not None
    assert "more than 10000 extents" in result.error


def test_missing_item_location_is_named() -> None:
    meta = full_box(b"meta", 0, iloc(0, [(1, 0, 0, 4)]) + full_box(b"iinf", 0, b"\x00\x01" + infe(2, 2, b"Exif")))
    result = exif_of(FTYP + meta)
    assert result.error is not None
    assert "no location" in result.error


def test_read_media_on_a_heic_file(tmp_path: Path) -> None:
    path = tmp_path / "IMG_1234.HEIC"
    path.write_bytes(heic(version=1))
    metadata = read_media(path)
    assert (metadata.media_type, metadata.kind, metadata.movie) == ("image/heic", "photo", None)
    assert metadata.exif is not None
    assert metadata.exif.info is not None
    assert metadata.exif.info.camera_time_tag == "DateTimeOriginal"
    assert metadata.filename is not None
    assert metadata.filename.sequence == 1234


GOOD = heic(version=1)


@PROPERTY
@given(st.data())
def test_mutated_heic_never_raises(data: st.DataObject) -> None:
    raw = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from([0, 1, 2, 0x44, 0x7F, 0xFF, raw[position] ^ 0x20]))
    result = exif_of(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
    assert isinstance(result, ExifResult)
