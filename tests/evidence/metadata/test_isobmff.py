"""read_movie on hand-built MP4/MOV bytes: mvhd versions, locations, odd box sizes, damage and hostility."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.metadata import MovieInfo, MovieResult, read_movie
from evidence.metadata.isobmff import MAX_BOXES, parse_iso6709
from tests.evidence.metadata import MAC_EPOCH_OFFSET, box, full_box, movie, mvhd, xyz

PROPERTY = settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
WHEN = datetime(2026, 5, 12, 9, 41, 7)
MAC_WHEN = MAC_EPOCH_OFFSET + int(WHEN.replace(tzinfo=UTC).timestamp())


def info_of(data: bytes) -> MovieInfo:
    result = read_movie(io.BytesIO(data))
    assert result.error is None, result
    assert result.info is not None
    return result.info


def error_of(data: bytes) -> str:
    result = read_movie(io.BytesIO(data))
    assert result.info is None, result
    assert result.error is not None
    return result.error


@pytest.mark.parametrize("version", [0, 1])
def test_mvhd_times_and_duration(version: int) -> None:
    info = info_of(movie(mvhd(version, MAC_WHEN, MAC_WHEN + 90, timescale=600, duration=600 * 75 + 300)))
    assert (info.created_raw, info.modified_raw) == (WHEN, datetime(2026, 5, 12, 9, 42, 37))
    assert info.duration_s == 75.5
    assert info.brand == "isom"
    assert info.location is None
    assert info.problems == ()


def test_version_1_holds_times_past_2040() -> None:
    later = MAC_EPOCH_OFFSET + int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
    assert later > 0xFFFFFFFF
    assert info_of(movie(mvhd(1, later))).created_raw == datetime(2100, 1, 1)


def test_zero_times_and_unknown_duration_are_none() -> None:
    info = info_of(movie(mvhd(0, 0, 0, duration=0xFFFFFFFF)))
    assert (info.created_raw, info.modified_raw, info.duration_s) == (None, None, None)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (mvhd(0, MAC_WHEN, timescale=0, duration=5), "timescale is 0"),
        (mvhd(0, int(datetime(2026, 5, 12, tzinfo=UTC).timestamp())), "counted from 1970"),
        (mvhd(1, 2**63), "out of range"),
    ],
)
def test_odd_headers_are_noted(header: bytes, problem: str) -> None:
    assert any(problem in p for p in info_of(movie(header)).problems)


def test_quicktime_brand_and_64_bit_mdat() -> None:
    data = box(b"ftyp", b"qt  \x00\x00\x02\x00qt  ") + box(b"mdat", b"\x00" * 64, large=True)
    info = info_of(data + box(b"moov", mvhd(0, MAC_WHEN)))
    assert (info.brand, info.created_raw) == ("qt", WHEN)


def test_a_last_box_of_size_zero_runs_to_the_end() -> None:
    data = box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4s", 0, b"moov") + mvhd(0, MAC_WHEN)
    assert info_of(data).created_raw == WHEN


def test_old_quicktime_without_ftyp() -> None:
    info = info_of(box(b"wide") + box(b"mdat", b"\x00" * 8) + box(b"moov", mvhd(0, MAC_WHEN)))
    assert info.brand is None
    assert info.created_raw == WHEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+34.6197+112.4540+141.000/", (34.6197, 112.454, 141.0)),
        ("-33.8688-070.6693/", (-33.8688, -70.6693, None)),
        ("+3437.182+11227.240/", (34 + 37.182 / 60, 112 + 27.24 / 60, None)),
        ("+343710.9+1122714.4-5.5/", (34 + 37 / 60 + 10.9 / 3600, 112 + 27 / 60 + 14.4 / 3600, -5.5)),
        ("+1.5+2.25/", (1.5, 2.25, None)),
        ("+34.6197+112.4540+141.000CRSWGS_84/", (34.6197, 112.454, 141.0)),
    ],
)
def test_iso6709(text: str, expected: tuple[float, float, float | None]) -> None:
    assert parse_iso6709(text) == pytest.approx(expected)
    info = info_of(movie(mvhd(0, MAC_WHEN), box(b"udta", xyz(text))))
    assert info.location == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "34.6+112.4/", "+95.0+112.4/", "+34.6+190.0/", "+34.6/", "+34.6+112.4 junk"])
def test_bad_iso6709_is_refused(text: str) -> None:
    assert parse_iso6709(text) is None
    info = info_of(movie(mvhd(0, MAC_WHEN), box(b"udta", xyz(text))))
    assert info.location is None
    assert any("©xyz" in p for p in info.problems)


def test_apple_metadata_keys_location() -> None:
    key = b"com.apple.quicktime.location.ISO6709"
    keys = full_box(b"keys", 0, struct.pack(">I", 2) + box(b"mdta", b"com.apple.quicktime.make") + box(b"mdta", key))
    item = box((2).to_bytes(4, "big"), box(b"data", b"\x00\x00\x00\x01" + b"\x00" * 4 + b"+22.5431+114.0579/"))
    meta = box(b"meta", box(b"hdlr", b"\x00" * 24) + keys + box(b"ilst", item))
    assert info_of(movie(mvhd(0, MAC_WHEN), meta)).location == pytest.approx((22.5431, 114.0579, None))


def test_3gpp_loci_location() -> None:
    coords = struct.pack(">iii", round(-70.6693 * 65536), round(-33.8688 * 65536), round(520.0 * 65536))
    loci = full_box(b"loci", 0, b"\x15\xc7" + b"Santiago\x00" + b"\x00" + coords + b"earth\x00\x00")
    location = info_of(movie(mvhd(0, MAC_WHEN), box(b"udta", loci))).location
    assert location == pytest.approx((-33.8688, -70.6693, 520.0), abs=1e-4)


def test_a_damaged_location_does_not_lose_the_times() -> None:
    broken_udta = box(b"udta", struct.pack(">I4s", 4000, b"\xa9xyz"))
    info = info_of(movie(mvhd(0, MAC_WHEN), broken_udta))
    assert info.created_raw == WHEN
    assert info.location is None
    assert any(p.startswith("location unreadable") for p in info.problems)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (box(b"ftyp", b"isom") + box(b"mdat", b"\x00" * 16), "no 'moov' box"),
        (box(b"ftyp", b"isom") + struct.pack(">I4s", 4, b"free") + b"\x00" * 8, "smaller than its header"),
        (box(b"ftyp", b"isom") + struct.pack(">I4sQ", 1, b"mdat", 8) + b"\x00" * 8, "smaller than its header"),
        (box(b"ftyp", b"isom") + struct.pack(">I4s", 1 << 20, b"mdat"), "runs past the end"),
        (box(b"ftyp", b"isom") + box(b"moov", box(b"trak")), "no 'mvhd'"),
        (box(b"ftyp", b"isom") + box(b"moov", box(b"mvhd", b"\x00\x00")), "truncated or of an unknown version"),
        (box(b"ftyp", b"isom") + box(b"moov", box(b"mvhd", b"\x07" + b"\x00" * 40)), "unknown version"),
        (box(b"moov", struct.pack(">I4s", 64, b"mvhd")), "runs past the end of its container"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", "not an MP4/MOV/HEIF file"),
        (b"", "no 'moov' box"),
    ],
)
def test_damaged_files_are_unreadable_with_a_reason(data: bytes, reason: str) -> None:
    assert reason in error_of(data)


def test_box_count_is_capped() -> None:
    data = box(b"ftyp", b"isom") + box(b"free") * (MAX_BOXES + 10) + box(b"moov", mvhd(0, MAC_WHEN))
    assert "more than 4096 boxes" in error_of(data)


def test_deep_nesting_costs_nothing() -> None:
    nested = box(b"udta", xyz("+1.0+2.0/"))
    for _ in range(200):
        nested = box(b"udta", nested)
    info = info_of(movie(mvhd(0, MAC_WHEN), nested))
    assert info.location is None  # only moov/udta/©xyz counts; nothing deeper is walked


def test_moov_first_then_a_truncated_mdat_still_reads() -> None:
    data = box(b"ftyp", b"isom") + box(b"moov", mvhd(0, MAC_WHEN)) + struct.pack(">I4s", 1 << 30, b"mdat")
    assert info_of(data).created_raw == WHEN


GOOD_MOVIE = movie(mvhd(1, MAC_WHEN, MAC_WHEN, 1000, 5000), box(b"udta", xyz("+34.6197+112.4540+141.000/")))


@PROPERTY
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert isinstance(read_movie(io.BytesIO(data)), MovieResult)
    assert isinstance(read_movie(io.BytesIO(GOOD_MOVIE[:32] + data)), MovieResult)


@PROPERTY
@given(st.data())
def test_mutated_movie_never_raises(data: st.DataObject) -> None:
    raw = bytearray(GOOD_MOVIE)
    for _ in range(data.draw(st.integers(1, 10))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from([0, 1, 8, 0x10, 0x7F, 0xFF, raw[position] ^ 0x40]))
    result = read_movie(io.BytesIO(bytes(raw[: data.draw(st.integers(0, len(raw)))])))
    assert isinstance(result, MovieResult)
    assert (result.info is None) != (result.error is None)
