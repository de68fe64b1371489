"""NMEA 0183 sentences: public vectors, checksum and field errors, talkers, ignored types, JSON."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from device_gateway.errors import NmeaError, ProtocolError
from device_gateway.protocols.nmea import (
    BadSentence,
    IgnoredSentence,
    checksum,
    decode_sentence,
    parse_sentence,
    sentence_json,
)
from tests.conftest import _find_shared_dir

GGA = "$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6D"
RMC = "$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68"


def nmea(body: str) -> str:
    """The sentence ``$body*HH`` with its correct checksum (upper case)."""
    return f"${body}*{checksum(body.encode('ascii')):02X}"


def _vector_lines() -> list[str]:
    shared = _find_shared_dir()
    if shared is None:
        return ["<testdata not found>"]
    text = (shared / "testdata" / "nmea" / "public-sentences.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("$")]


def _reason(line: str | bytes) -> str:
    with pytest.raises(NmeaError) as caught:
        parse_sentence(line)
    return caught.value.reason


# --- public vectors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", _vector_lines())
def test_public_vector(line: str) -> None:
    sentence_text, expected = line.split(" => ")
    sentence = parse_sentence(sentence_text)
    assert sentence is not None
    assert sentence.raw == sentence_text.encode()
    numbers = dict(re.findall(r"(lat|lon|alt|quality) (-?[\d.]+)", expected))
    if "lat" in numbers:
        assert sentence.lat == pytest.approx(float(numbers["lat"]), abs=5e-7)
        assert sentence.lon == pytest.approx(float(numbers["lon"]), abs=5e-7)
    if "alt" in numbers:
        assert sentence.alt == float(numbers["alt"])
    if "quality" in numbers:
        assert sentence.quality == int(numbers["quality"])
    if "no fix" in expected:
        assert (sentence.lat, sentence.lon, sentence.quality) == (None, None, 0)
    stamp = re.search(r"\d{4}-\d\d-\d\dT[\d:]+Z", expected)
    if stamp:
        assert sentence_json(sentence)["time"] == stamp.group()
    assert sentence.valid is ("not valid" not in expected and "no fix" not in expected)


def test_public_vectors_file_is_complete(testdata: Path) -> None:
    assert len(_vector_lines()) == 5
    assert (testdata / "nmea" / "public-sentences.txt").is_file()


def test_gga_fields() -> None:
    s = parse_sentence(GGA)
    assert s is not None
    assert (s.raw, s.talker, s.type, s.time, s.date) == (GGA.encode(), "GP", "GGA", time(18, 43, 53, 70000), None)
    assert (s.alt, s.quality, s.satellites, s.hdop, s.valid, s.mode) == (100.0, 1, 4, 2.6, True, None)
    assert (s.lat, s.lon) == (pytest.approx(-(19 + 29.045 / 60)), pytest.approx(24 + 10.506 / 60))


def test_rmc_fields() -> None:
    s = parse_sentence(RMC)
    assert s is not None
    assert (s.type, s.date, s.time, s.valid) == ("RMC", date(1994, 11, 19), time(22, 54, 46), True)
    assert (s.alt, s.quality, s.satellites, s.hdop) == (None, None, None, None)
    assert s.lat == pytest.approx(49.274167, abs=5e-7)
    assert s.lon == pytest.approx(-123.185333, abs=5e-7)


# --- checksum and framing errors ----------------------------------------------------------------------------------


def test_wrong_checksum() -> None:
    assert _reason(GGA[:-2] + "6E") == "checksum"


def test_missing_checksum() -> None:
    assert _reason(GGA.split("*", maxsplit=1)[0]) == "missing-checksum"
    assert _reason(GGA.split("*", maxsplit=1)[0] + "*") == "missing-checksum"


def test_lower_case_checksum_accepted() -> None:
    lower = parse_sentence(GGA[:-2] + "6d")
    upper = parse_sentence(GGA)
    assert lower is not None
    assert upper is not None
    assert lower.raw == (GGA[:-2] + "6d").encode()
    assert lower.__dict__ | {"raw": upper.raw} == upper.__dict__


@pytest.mark.parametrize("tail", ["6", "6D0", "G1", " 6D", "+D", "6D "])
def test_malformed_checksum(tail: str) -> None:
    assert _reason(GGA.split("*", maxsplit=1)[0] + "*" + tail) == "checksum"


@pytest.mark.parametrize(
    "line",
    [
        "GPGGA,1*00",
        " $GPGGA,,,,,,0,,,,,,,,*66",
        "$GPG\x01GA*00",
        "$GP$GGA*00",
        "$GPGGA\xe9*00",
        "$*00",
        nmea("gpgga,1"),
        nmea("GP GGA,1"),
    ],
)
def test_format_errors(line: str) -> None:
    assert _reason(line) == "format"


def test_errors_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        parse_sentence(b"garbage")


def test_crlf_terminator_is_not_part_of_raw() -> None:
    s = parse_sentence((RMC + "\r\n").encode())
    assert s is not None
    assert s.raw == RMC.encode()


# --- field errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "GPGGA,184353,1929.045,,02410.506,E,1,04,2.6,100.0,M,,M,,",  # latitude without hemisphere
        "GPGGA,184353,1929.045,S,,,1,04,2.6,100.0,M,,M,,",  # half a position
        "GPGGA,184353,1960.000,S,02410.506,E,1,04,2.6,100.0,M,,M,,",  # 60 minutes
        "GPGGA,184353,9100.000,N,02410.506,E,1,04,2.6,100.0,M,,M,,",  # beyond 90 degrees
        "GPGGA,184353,1929.045,X,02410.506,E,1,04,2.6,100.0,M,,M,,",  # hemisphere
        "GPGGA,184353,1929.045,S,18100.000,E,1,04,2.6,100.0,M,,M,,",  # beyond 180 degrees
        "GPGGA,184353,1929.045,S,02410.506,E,1,04,nan,100.0,M,,M,,",  # hdop not a number
        "GPGGA,184353,1929.045,S,02410.506,E,1,04,1e1,100.0,M,,M,,",
        "GPGGA,184353,1929.045,S,02410.506,E,x,04,2.6,100.0,M,,M,,",  # quality
        "GPGGA,184353,1929.045,S,02410.506,E,1,04,2.6,100.0,F,,M,,",  # altitude in feet
        "GPGGA,184360,1929.045,S,02410.506,E,1,04,2.6,100.0,M,,M,,",  # leap second
        "GPGGA,246000,1929.045,S,02410.506,E,1,04,2.6,100.0,M,,M,,",  # hour 24
        "GPGGA,18:43:53,1929.045,S,02410.506,E,1,04,2.6,100.0,M,,M,,",
        "GPGGA,184353,1929.045,S,02410.506,E,1,04,2.6",  # too few fields
        "GPRMC,225446,X,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E",  # status
        "GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,310294,020.3,E",  # 31 February
        "GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,1911,020.3,E",
        "GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E,AA",  # mode
    ],
)
def test_field_errors(body: str) -> None:
    assert _reason(nmea(body)) == "field"


# --- talkers and types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("talker", ["GP", "GN", "BD", "GB", "GL", "GA"])
def test_gnss_talkers(talker: str) -> None:
    gga = parse_sentence(nmea(f"{talker}GGA,012345.00,3015.1234,N,12010.5678,E,2,12,0.8,12.5,M,7.0,M,,"))
    rmc = parse_sentence(nmea(f"{talker}RMC,012345.00,A,3015.1234,N,12010.5678,E,0.1,,010524,,,D"))
    assert gga is not None
    assert rmc is not None
    assert (gga.talker, gga.type, gga.quality, gga.valid) == (talker, "GGA", 2, True)
    assert (rmc.talker, rmc.mode, rmc.date, rmc.valid) == (talker, "D", date(2024, 5, 1), True)
    assert gga.lat == rmc.lat == pytest.approx(30 + 15.1234 / 60)


@pytest.mark.parametrize(
    "body",
    [
        "GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00",
        "GNGSA,A,3,04,05,,,,,,,,,,,2.5,1.3,2.1",
        "GPVTG,054.7,T,034.4,M,005.5,N,010.2,K",
        "PUBX,00,081350.00",
        "IIGGA,1,2",
    ],
)
def test_other_types_are_ignored(body: str) -> None:
    assert parse_sentence(nmea(body)) is None
    item = decode_sentence(nmea(body))
    assert item == IgnoredSentence(raw=nmea(body).encode(), address=body.split(",", maxsplit=1)[0])
    assert sentence_json(item)["ok"] is True


def test_ignored_type_with_bad_checksum_is_bad() -> None:
    assert _reason("$GPGSV,1,1,00*00") == "checksum"


def test_rmc_mode_n_is_not_valid() -> None:
    s = parse_sentence(nmea("GNRMC,012345.00,A,3015.1234,N,12010.5678,E,0.1,,010524,,,N"))
    assert s is not None
    assert s.valid is False


def test_gga_quality_without_position_is_not_valid() -> None:
    s = parse_sentence(nmea("GPGGA,012345.00,,,,,1,00,,,M,,M,,"))
    assert s is not None
    assert (s.valid, s.lat) == (False, None)


# --- JSON --------------------------------------------------------------------------------------------------------

KEYS = {"ok", "error", "type", "time", "lat", "lon", "alt", "quality", "valid"}


def test_json_of_sentences() -> None:
    gga, rmc = sentence_json(parse_sentence(GGA)), sentence_json(parse_sentence(RMC))  # type: ignore[arg-type]
    assert list(gga) == list(rmc) == ["ok", "error", "type", "time", "lat", "lon", "alt", "quality", "valid"]
    assert gga == {"ok": True, "error": None, "type": "GGA", "time": "18:43:53.07Z", "valid": True} | {
        "lat": -19.4840833,
        "lon": 24.1751,
        "alt": 100.0,
        "quality": 1,
    }
    assert (rmc["time"], rmc["lat"], rmc["alt"], rmc["quality"]) == ("1994-11-19T22:54:46Z", 49.2741667, None, None)


def test_json_of_bad_sentence() -> None:
    out = sentence_json(BadSentence(raw=b"$x", reason="checksum", message="..."))
    assert out == dict.fromkeys(KEYS) | {"ok": False, "error": "checksum", "valid": False}
