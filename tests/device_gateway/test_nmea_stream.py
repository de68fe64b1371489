"""NMEA 0183 stream framing, and properties of the codec (random bytes, generated GGA, single-byte corruption)."""

from __future__ import annotations

from datetime import time
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.errors import NmeaError
from device_gateway.protocols.nmea import BadSentence, NmeaStreamDecoder, Sentence, checksum, parse_sentence

PROPERTY = settings(deadline=None, max_examples=200)
GGA = "$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6D"
RMC = "$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68"


def nmea(body: str) -> str:
    """The sentence ``$body*HH`` with its correct checksum (upper case)."""
    return f"${body}*{checksum(body.encode('ascii')):02X}"


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
