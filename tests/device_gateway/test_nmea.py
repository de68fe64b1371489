"""NMEA 0183 codec: public vectors, checksum and field errors, talkers, ignored types, stream framing, properties."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.errors import NmeaError, ProtocolError
from device_gateway.protocols.nmea import (
    BadSentence,
    IgnoredSentence,
    NmeaStreamDecoder,
    Sentence,
    checksum,
    decode_sentence,
    parse_sentence,
    sentence_json,
)
from tests.conftest import _find_shared_dir

PROPERTY = settings(deadline=None, max_examples=200)
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


# --- stream decoder ----------------------------------------------------------------------------------------------

STREAM = (GGA + "\r\n" + nmea("GPGSV,1,1,00") + "\r\n" + RMC + "\r\n").encode()


def _summary(items: list[Sentence | BadSentence]) -> list[tuple[str, bytes]]:
    return [(x.type if isinstance(x, Sentence) else x.reason, x.raw) for x in items]


def test_stream_whole() -> None:
    decoder = NmeaStreamDecoder()
    assert _summary(decoder.feed(STREAM)) == [("GGA", GGA.encode()), ("RMC", RMC.encode())]
    assert decoder.flush() == []
    assert decoder.ignored == {"GPGSV": 1}


def test_stream_split_at_every_byte_boundary() -> None:
    whole = NmeaStreamDecoder().feed(STREAM)
    for cut in range(len(STREAM) + 1):
        decoder = NmeaStreamDecoder()
        assert decoder.feed(STREAM[:cut]) + decoder.feed(STREAM[cut:]) + decoder.flush() == whole, cut


def test_stream_byte_by_byte() -> None:
    decoder = NmeaStreamDecoder()
    items = [item for byte in STREAM for item in decoder.feed(bytes([byte]))]
    assert items == NmeaStreamDecoder().feed(STREAM)


def test_stream_lf_only_and_cr_only() -> None:
    for terminator in (b"\n", b"\r"):
        decoder = NmeaStreamDecoder()
        data = STREAM.replace(b"\r\n", terminator)
        assert _summary(decoder.feed(data) + decoder.flush()) == [("GGA", GGA.encode()), ("RMC", RMC.encode())]


def test_stream_feed_all_reports_ignored() -> None:
    items = NmeaStreamDecoder().feed_all(STREAM)
    assert [type(x).__name__ for x in items] == ["Sentence", "IgnoredSentence", "Sentence"]


def test_stream_garbage_resyncs() -> None:
    data = b"\x00\xffnoise" + GGA.encode() + b"\r\n\r\n$GPGGA,1234" + RMC.encode() + b"\n tail"
    decoder = NmeaStreamDecoder()
    got = _summary(decoder.feed(data) + decoder.flush())
    assert got == [
        ("format", b"\x00\xffnoise"),
        ("GGA", GGA.encode()),
        ("missing-checksum", b"$GPGGA,1234"),
        ("RMC", RMC.encode()),
        ("format", b" tail"),
    ]


def test_stream_last_line_needs_flush() -> None:
    decoder = NmeaStreamDecoder()
    assert decoder.feed(RMC.encode()) == []
    assert _summary(decoder.flush()) == [("RMC", RMC.encode())]
    assert decoder.flush() == []


def test_stream_overlong_line_is_bounded_and_reported_once() -> None:
    decoder = NmeaStreamDecoder(max_line=100)
    long_line = b"$GPTXT," + b"x" * 5000
    items = [item for i in range(0, len(long_line), 7) for item in decoder.feed(long_line[i : i + 7])]
    items += decoder.feed(b"*00\r\n" + RMC.encode() + b"\r\n")
    assert _summary(items) == [("overlong", long_line[:100]), ("RMC", RMC.encode())]
    assert len(decoder._buffer) == 0


def test_stream_overlong_ends_at_next_dollar() -> None:
    decoder = NmeaStreamDecoder(max_line=80)
    items = decoder.feed(b"y" * 100 + RMC.encode() + b"\r\n")
    assert _summary(items) == [("overlong", b"y" * 80), ("RMC", RMC.encode())]


# --- properties --------------------------------------------------------------------------------------------------


@PROPERTY
@given(
    st.lists(
        st.one_of(st.binary(max_size=60), st.sampled_from([GGA, RMC, "$GPGSV,1*00", "\r\n", "\n", "$"]).map(str.encode))
    ).map(b"".join),
    st.lists(st.integers(min_value=0, max_value=600), max_size=8),
)
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    decoder = NmeaStreamDecoder(max_line=128)
    items: list[Sentence | BadSentence] = []
    start = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        items += decoder.feed(data[start:cut])
        start = cut
    items += decoder.feed(data[start:]) + decoder.flush()
    whole = NmeaStreamDecoder(max_line=128)
    assert items == whole.feed(data) + whole.flush()
    assert all(len(x.raw) <= 128 for x in items)


class Gga(NamedTuple):
    talker: str
    time: time
    lat: tuple[int, int, str]  # degrees, minutes x 1e4, hemisphere
    lon: tuple[int, int, str]
    quality: int
    satellites: int
    hdop_tenths: int
    alt_dm: int

    def encode(self) -> str:
        (la, lam, ns), (lo, lom, ew) = self.lat, self.lon
        tod = f"{self.time:%H%M%S}.{self.time.microsecond // 10000:02d}"
        fields = [tod, f"{la:02d}{lam / 1e4:07.4f}", ns, f"{lo:03d}{lom / 1e4:07.4f}", ew, str(self.quality)]
        fields += f"{self.satellites:02d},{self.hdop_tenths / 10:.1f},{self.alt_dm / 10:.1f},M,,M,,".split(",")
        return nmea(f"{self.talker}GGA," + ",".join(fields))

    def degrees(self, part: tuple[int, int, str]) -> float:
        value = part[0] + part[1] / 1e4 / 60
        return -value if part[2] in "SW" else value


ggas = st.builds(
    Gga,
    talker=st.sampled_from(["GP", "GN", "BD", "GB", "GL", "GA"]),
    time=st.times().map(lambda t: t.replace(microsecond=t.microsecond // 10000 * 10000)),
    lat=st.tuples(st.integers(0, 89), st.integers(0, 599_999), st.sampled_from("NS")),
    lon=st.tuples(st.integers(0, 179), st.integers(0, 599_999), st.sampled_from("EW")),
    quality=st.integers(0, 8),
    satellites=st.integers(0, 40),
    hdop_tenths=st.integers(0, 999),
    alt_dm=st.integers(-5000, 90000),
)


@PROPERTY
@given(ggas)
def test_generated_gga_round_trips(g: Gga) -> None:
    s = parse_sentence(g.encode())
    assert s is not None
    assert (s.talker, s.type, s.time, s.quality, s.satellites) == (g.talker, "GGA", g.time, g.quality, g.satellites)
    assert s.lat == pytest.approx(g.degrees(g.lat), abs=1e-9)
    assert s.lon == pytest.approx(g.degrees(g.lon), abs=1e-9)
    assert s.hdop == pytest.approx(g.hdop_tenths / 10)
    assert s.alt == pytest.approx(g.alt_dm / 10)
    assert s.valid is (g.quality > 0)


@PROPERTY
@given(ggas, st.data())
def test_single_byte_corruption_is_detected(g: Gga, data: st.DataObject) -> None:
    line = g.encode().encode()
    where = data.draw(st.integers(0, len(line) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != line[where]))
    bad = line[:where] + bytes([byte]) + line[where + 1 :]
    original = parse_sentence(line)
    try:
        parsed = parse_sentence(bad)
    except NmeaError:
        return
    # Only the case of a checksum hex letter may change without consequence.
    assert where >= len(line) - 2
    assert chr(byte).upper() == chr(line[where]).upper()
    assert parsed is not None
    assert original is not None
    assert parsed.__dict__ | {"raw": line} == original.__dict__


@PROPERTY
@given(ggas, st.data())
def test_single_byte_corruption_in_a_stream(g: Gga, data: st.DataObject) -> None:
    line = g.encode().encode() + b"\r\n"
    where = data.draw(st.integers(0, len(line) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != line[where]))
    decoder = NmeaStreamDecoder()
    items = decoder.feed(line[:where] + bytes([byte]) + line[where + 1 :]) + decoder.flush()
    clean = NmeaStreamDecoder().feed(line)
    assert any(isinstance(x, BadSentence) for x in items) or [x.__dict__ | {"raw": b""} for x in items] == [
        x.__dict__ | {"raw": b""} for x in clean
    ]
