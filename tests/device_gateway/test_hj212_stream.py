"""The HJ 212 stream decoder: garbage, sticky and torn packets, tails, wrong lengths, truncation, bounded memory."""

from __future__ import annotations

import pytest

from device_gateway.protocols.hj212 import BadPacket, Packet, StreamDecoder, encode_frame

Item = Packet | BadPacket


def frame(number: int, *, tail: bytes = b"\r\n", qn: bool = True, cp: str | None = None) -> bytes:
    text = cp if cp is not None else f"DataTime=20240101{number:06d};a34004-Rtd={number}.5,a34004-Flag=N"
    return encode_frame(
        qn=f"20240101000000{number:03d}" if qn else None,
        st="22",
        cn="2011",
        pw="123456",
        mn="MN0001",
        flag=4 if qn else None,
        cp=text,
        tail=tail,
    )


def decode(*chunks: bytes) -> list[Item]:
    decoder = StreamDecoder()
    items = [item for chunk in chunks for item in decoder.feed(chunk)]
    return items + decoder.flush()


def raws(items: list[Item]) -> list[bytes]:
    return [item.raw for item in items if isinstance(item, Packet)]


def bad(items: list[Item]) -> list[tuple[str, bytes]]:
    return [(item.reason, item.raw) for item in items if isinstance(item, BadPacket)]


FRAMES = [frame(1), frame(2, tail=b"\n"), frame(3, tail=b""), frame(4, qn=False), frame(5, cp="")]


def test_sticky_packets_in_one_feed() -> None:
    items = decode(b"".join(FRAMES))
    assert raws(items) == FRAMES
    assert bad(items) == []


def test_garbage_before_between_and_after_frames_is_skipped_silently() -> None:
    junk = [b"\x00\xff#garbage#", b"AT+OK\r\n", b"#", b"##xx", b"###", b"tail junk #"]
    stream = b"".join(part for pair in zip(junk, [*FRAMES, b""], strict=True) for part in pair)
    items = decode(stream)
    assert raws(items) == FRAMES
    assert bad(items) == []


def test_a_stray_hash_before_a_frame_does_not_hide_it() -> None:
    assert raws(decode(b"#" + FRAMES[0], b"#", FRAMES[1])) == FRAMES[:2]


def test_frames_split_at_every_byte_boundary() -> None:
    stream = b"junk" + b"".join(FRAMES) + b"\r\n"
    for cut in range(1, len(stream)):
        assert raws(decode(stream[:cut], stream[cut:])) == FRAMES, cut


def test_frames_fed_one_byte_at_a_time() -> None:
    stream = b"".join(FRAMES)
    decoder = StreamDecoder()
    items = [item for index in range(len(stream)) for item in decoder.feed(stream[index : index + 1])]
    assert raws(items + decoder.flush()) == FRAMES


def test_frames_are_emitted_as_soon_as_their_tail_is_known() -> None:
    decoder = StreamDecoder()
    assert decoder.feed(FRAMES[0][:-2]) == []  # the CRC has arrived, the tail not yet
    assert decoder.feed(b"\r") == []  # a lone \r may still be followed by \n
    [item] = decoder.feed(b"\n")
    assert isinstance(item, Packet)
    assert item.tail == b"\r\n"
    assert decoder.buffered == 0


@pytest.mark.parametrize(("tail", "after"), [(b"\r\n", b""), (b"\n", b""), (b"", b"##"), (b"", b"xyz"), (b"\r", b"x")])
def test_tails_are_kept_as_received(tail: bytes, after: bytes) -> None:
    body = FRAMES[0][:-2]
    [item, *_] = decode(body + tail + after)
    assert isinstance(item, Packet)
    assert item.raw == body + tail
    assert item.tail == tail


def test_missing_tail_at_the_end_of_input_waits_for_flush() -> None:
    decoder = StreamDecoder()
    body = FRAMES[0][:-2]
    assert decoder.feed(body) == []
    [item] = decoder.flush()
    assert isinstance(item, Packet)
    assert item.raw == body
    assert item.tail == b""


def test_lone_carriage_return_at_the_end_of_input_is_the_tail() -> None:
    decoder = StreamDecoder()
    body = FRAMES[0][:-2]
    assert decoder.feed(body + b"\r") == []
    [item] = decoder.flush()
    assert isinstance(item, Packet)
    assert item.tail == b"\r"


def test_truncated_frame_is_reported_at_flush() -> None:
    decoder = StreamDecoder()
    assert raws(decoder.feed(FRAMES[0] + FRAMES[1][:40])) == [FRAMES[0]]
    assert decoder.buffered == 40
    assert bad(decoder.flush()) == [("truncated", FRAMES[1][:40])]
    assert decoder.buffered == 0
    assert decoder.flush() == []


@pytest.mark.parametrize("partial", [b"##", b"##0", b"##012"])
def test_a_header_cut_short_is_truncated_at_flush(partial: bytes) -> None:
    assert bad(decode(FRAMES[0] + partial)) == [("truncated", partial)]


def test_truncated_frame_followed_by_a_good_one_loses_only_itself() -> None:
    cut = FRAMES[0][:50]
    items = decode(cut + FRAMES[1])
    assert bad(items) == [("length", cut)]
    assert raws(items) == [FRAMES[1]]


def test_truncated_frame_before_an_implausible_header_is_resolved_at_flush() -> None:
    odd = frame(7, cp="").replace(b"QN=", b"qn=")  # a frame whose header is not recognised as one
    cut = FRAMES[0][:50]
    items = decode(cut + odd + FRAMES[1])
    assert raws(items)[-1:] == [FRAMES[1]]
    assert bad(items)[0][0] in {"length", "crc"}
    assert bad(items)[0][1].startswith(cut)


@pytest.mark.parametrize("declared", [0, 5, 50, 80, 9999])
def test_a_wrong_length_does_not_swallow_the_frames_that_follow(declared: int) -> None:
    broken = b"##%04d" % declared + FRAMES[0][6:]
    items = decode(broken + b"".join(FRAMES[1:]))
    assert raws(items) == FRAMES[1:]
    [(reason, raw)] = bad(items)
    assert reason in {"length", "crc"}
    assert broken.startswith(raw)


def test_a_longer_length_is_a_length_error_reported_without_waiting() -> None:
    declared = len(FRAMES[0]) + 30
    broken = b"##%04d" % declared + FRAMES[0][6:]
    decoder = StreamDecoder()
    items = decoder.feed(broken + FRAMES[1])
    assert bad(items) == [("length", broken)]
    assert raws(items) == [FRAMES[1]]


def test_one_shorter_length_is_a_length_error() -> None:
    declared = int(FRAMES[0][2:6]) - 1
    broken = b"##%04d" % declared + FRAMES[0][6:]
    assert bad(decode(broken)) == [("length", broken[: declared + 10])]


def test_a_corrupted_crc_does_not_hide_the_next_frame_even_without_a_tail() -> None:
    broken = FRAMES[2][:-4] + b"0000"
    items = decode(broken + FRAMES[0])
    assert bad(items) == [("crc", broken)]
    assert raws(items) == [FRAMES[0]]


def test_duplicated_frames_are_all_delivered() -> None:
    assert raws(decode(FRAMES[0] * 3)) == [FRAMES[0]] * 3


def test_memory_stays_bounded_by_one_maximal_frame() -> None:
    decoder = StreamDecoder()
    items = decoder.feed(b"##9999QN=1;")
    for _ in range(200):
        items += decoder.feed(b"x" * 100)
        assert decoder.buffered <= 10_011
    items += decoder.feed(FRAMES[0])
    assert [reason for reason, _ in bad(items)] == ["length"]
    assert raws(items) == [FRAMES[0]]
    assert decoder.buffered == 0


def test_garbage_without_frames_is_not_kept() -> None:
    decoder = StreamDecoder()
    assert decoder.feed(b"no frames here " * 1000 + b"#") == []
    assert decoder.buffered == 1  # a trailing "#" may start "##"
    assert decoder.flush() == []
    assert decoder.buffered == 0


def test_bytearray_and_memoryview_input() -> None:
    decoder = StreamDecoder()
    items = decoder.feed(bytearray(FRAMES[0])) + decoder.feed(memoryview(FRAMES[1]))
    assert raws(items) == FRAMES[:2]
    assert all(type(item.raw) is bytes for item in items)
