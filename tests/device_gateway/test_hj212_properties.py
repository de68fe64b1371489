"""Properties of the HJ 212 codec: encode → decode is identity under any chunking; random and corrupted input
never raises, never yields a packet whose CRC does not check, and never costs a frame the corruption missed."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.errors import Hj212Error
from device_gateway.protocols.hj212 import (
    BadPacket,
    Packet,
    StreamDecoder,
    _any_header,
    _header,
    crc_hj212,
    encode_frame,
    encode_readings_cp,
    map_code,
    message_from_packet,
    packet_json,
)
from device_gateway.protocols.hj212_cp import parse_cp
from evidence.readings import DATA_FLAGS, Reading

PROPERTY = settings(deadline=None, max_examples=200)
KINDS = ["Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsAvg", "Data", "Info"]
SENT_CODES = ["a34004", "a21026", "w01018", "011", "060", "B01", "01", "S01", "LA", "Leq", "e10101", "x9"]
TAILS = [b"\r\n", b"\n", b"", b"\r"]


def reference_crc(data: bytes) -> int:
    """HJ 212-2017 appendix A, one bit at a time, independent of the codec."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True)
class Frame:
    header: Mapping[str, object]
    data_time: str
    readings: tuple[Reading, ...]
    tail: bytes

    def encode(self) -> bytes:
        cp = encode_readings_cp(self.data_time, self.readings)
        return encode_frame(**self.header, cp=cp, tail=self.tail)  # type: ignore[arg-type]


token = st.text(alphabet="ABCDEFabcdef0123456789_.-", min_size=0, max_size=12)
values = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**9), 10**9).map(float))


@st.composite
def code_groups(draw: st.DrawFn) -> tuple[Reading, ...]:
    codes = draw(st.lists(st.sampled_from(SENT_CODES), unique=True, max_size=8))
    readings: list[Reading] = []
    for sent in codes:
        flag = draw(st.one_of(st.none(), st.sampled_from(sorted(DATA_FLAGS))))
        code, original = map_code(sent)
        for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True)):
            readings.append(Reading(code, kind, draw(values), flag, original))
    return tuple(readings)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    split = draw(st.booleans())
    header = {
        "qn": draw(st.one_of(st.none(), st.from_regex(r"\A[0-9]{17}\Z"))),
        "st": draw(st.from_regex(r"\A[0-9A-Z]{2}\Z")),
        "cn": draw(st.from_regex(r"\A[0-9]{4}\Z")),
        "pw": draw(token),
        "mn": draw(token),
        "flag": draw(st.one_of(st.none(), st.integers(0, 255))),
        "pnum": draw(st.integers(1, 99)) if split else None,
        "pno": draw(st.integers(1, 99)) if split else None,
    }
    data_time = draw(st.from_regex(r"\A[0-9]{14}([0-9]{3})?\Z"))
    return Frame(header, data_time, draw(code_groups()), draw(st.sampled_from(TAILS)))


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(stream) + 1) for cut in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def decode(chunks: list[bytes]) -> list[Packet | BadPacket]:
    decoder = StreamDecoder()
    items = [item for chunk in chunks for item in decoder.feed(chunk)]
    return items + decoder.flush()


def assert_checks(packet: Packet) -> None:
    """Re-derive a packet's validity from its raw bytes alone."""
    raw = packet.raw
    length = int(raw[2:6])
    assert raw.startswith(b"##")
    assert raw[2:6].isdigit()
    assert raw[6 : 6 + length] == packet.data
    assert length == len(packet.data)
    assert int(raw[6 + length : 10 + length], 16) == reference_crc(packet.data)
    assert raw[10 + length :] in TAILS
    assert raw[10 + length :] == packet.tail


def exercise(items: list[Packet | BadPacket]) -> None:
    for item in items:
        packet_json(item)
        if isinstance(item, Packet):
            assert_checks(item)
            try:
                message_from_packet(item)
            except Hj212Error as exc:
                reason = exc.reason
            else:
                reason = "cp"
            assert reason == "cp"  # a CP may be malformed, nothing else may go wrong


# --- identity --------------------------------------------------------------------------------------------------


@PROPERTY
@given(st.lists(frames(), min_size=1, max_size=6), st.lists(st.integers(0, 10**6), max_size=12))
def test_encode_then_decode_is_identity(sent: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(frame.encode() for frame in sent)
    items = decode(chunked(stream, cuts))
    assert all(isinstance(item, Packet) for item in items), items
    packets = [item for item in items if isinstance(item, Packet)]
    assert [packet.raw for packet in packets] == [frame.encode() for frame in sent]
    for frame, packet in zip(sent, packets, strict=True):
        header = {name: getattr(packet, name) for name in frame.header}
        assert header == frame.header
        message = message_from_packet(packet)
        assert message.data_time == frame.data_time
        assert message.readings == frame.readings
        assert packet.needs_reply == (frame.header["flag"] is not None and bool(frame.header["flag"] & 1))  # type: ignore[operator]


@PROPERTY
@given(st.binary(max_size=2000))
def test_fast_crc_equals_the_standard_algorithm(data: bytes) -> None:
    assert crc_hj212(data) == reference_crc(data)


@PROPERTY
@given(
    st.lists(st.tuples(st.from_regex(r"\A[A-Za-z0-9-]{1,8}\Z"), st.from_regex(r"\A[A-Za-z0-9.+-]{0,6}\Z"))),
    st.sampled_from([";", ","]),
)
def test_fast_and_careful_cp_parsers_agree(pairs: list[tuple[str, str]], separator: str) -> None:
    cp = separator.join(f"{key}={value}" for key, value in pairs)
    assert parse_cp(cp) == parse_cp(f" {cp} ;")  # blanks send the text through the careful parser


@PROPERTY
@given(frames(), st.sampled_from(["", " ", ";"]))
def test_fast_and_general_header_parsers_agree(frame: Frame, blank: str) -> None:
    data = frame.encode()[6:].split(b"CP=&&")[0].decode()
    varied = data.replace(";", f"{blank};") if blank != ";" else data.replace(";", ";;")
    assert _header(data) == _any_header(data) == _any_header(varied) == _header(varied)


# --- hostile input ---------------------------------------------------------------------------------------------

pieces = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"##", b"#", b"\r", b"\n", b"&&", b"##0101", b"##9999QN=", b"CP=&&", b"##0000"]),
    frames().map(Frame.encode),
    frames().map(Frame.encode).flatmap(lambda frame: st.integers(0, len(frame)).map(lambda cut: frame[:cut])),
)


@PROPERTY
@given(st.lists(pieces, max_size=12), st.lists(st.integers(0, 10**6), max_size=12))
def test_random_input_never_raises_and_never_yields_an_unchecked_packet(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    items = decode(chunked(stream, cuts))
    exercise(items)
    assert sum(len(item.raw) for item in items) <= len(stream)


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[list[bytes], bytes, list[tuple[int, int]]]:
    """Valid frames, the stream after random flips, insertions and deletions, and the touched byte ranges."""
    sent = [frame.encode() for frame in draw(st.lists(frames(), min_size=1, max_size=6))]
    stream = bytearray(b"".join(sent))
    touched: list[tuple[int, int]] = []  # ranges of the ORIGINAL stream a mutation reached
    offsets = list(range(len(stream) + 1))  # current position → original position
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(stream)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        original = offsets[min(where, len(offsets) - 1)]
        if action == "flip" and where < len(stream):
            stream[where] ^= draw(st.integers(1, 255))
            touched.append((original, original + 1))
        elif action == "insert":
            extra = draw(st.one_of(st.binary(min_size=1, max_size=12), st.sampled_from([b"#", b"##", b"\n", b"\r"])))
            stream[where:where] = extra
            offsets[where:where] = [original] * len(extra)
            touched.append((original, original))
        elif action == "delete" and where < len(stream):
            count = min(draw(st.integers(1, 12)), len(stream) - where)
            end = offsets[min(where + count, len(offsets) - 1)]
            del stream[where : where + count]
            del offsets[where : where + count]
            touched.append((original, max(end, original + 1)))
    return sent, bytes(stream), touched


def untouched(sent: list[bytes], touched: list[tuple[int, int]]) -> list[bytes]:
    """Frames no mutation reached; a frame's zone runs 2 bytes past its end (its tail is decided by what follows)."""
    kept, start = [], 0
    for frame in sent:
        zone = (start, start + len(frame) + 2)
        if not any(low < zone[1] and high >= zone[0] for low, high in touched):
            kept.append(frame)
        start += len(frame)
    return kept


@PROPERTY
@given(corruptions(), st.lists(st.integers(0, 10**6), max_size=8))
def test_corruption_never_costs_an_untouched_frame(
    case: tuple[list[bytes], bytes, list[tuple[int, int]]], cuts: list[int]
) -> None:
    sent, stream, touched = case
    items = decode(chunked(stream, cuts))
    exercise(items)
    decoded = [item.raw for item in items if isinstance(item, Packet)]
    for frame in untouched(sent, touched):
        assert frame in decoded
