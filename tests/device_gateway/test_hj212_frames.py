"""HJ 212 frames: CRC check values, the published frames, CRC kinds and case, header quirks, the decode JSON."""

from __future__ import annotations

import json

import pytest

from device_gateway.errors import ConfigError
from device_gateway.protocols.hj212 import (
    BadPacket,
    Packet,
    StreamDecoder,
    crc_hj212,
    crc_modbus,
    encode_frame,
    message_from_packet,
    packet_json,
)
from tests.conftest import _find_shared_dir

STANDARD_EXAMPLE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)


def reference_crc(data: bytes) -> int:
    """HJ 212-2017 appendix A, step by step as the standard writes it (one bit at a time)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def decode_all(stream: bytes, **options: object) -> list[Packet | BadPacket]:
    decoder = StreamDecoder(**options)  # type: ignore[arg-type]
    return decoder.feed(stream) + decoder.flush()


def only_packet(stream: bytes, **options: object) -> Packet:
    items = decode_all(stream, **options)
    assert len(items) == 1, items
    assert isinstance(items[0], Packet), items
    return items[0]


def _public_frames() -> list[tuple[str, bytes]]:
    """(verdict comment, frame bytes) for every frame of public-frames.txt, in file order."""
    shared = _find_shared_dir()
    if shared is None:
        return [("<testdata not found>", b"")]
    lines = (shared / "testdata" / "hj212" / "public-frames.txt").read_text(encoding="utf-8").splitlines()
    frames, comment = [], ""
    for line in lines:
        if line.startswith("# "):
            comment = line[2:]
        elif line.startswith("##"):
            frames.append((comment, line.replace("\\r\\n", "\r\n").encode("utf-8")))
    return frames


PUBLIC = _public_frames()


# --- CRC ---------------------------------------------------------------------------------------------------------


def test_crc_check_values() -> None:
    assert crc_hj212(b"123456789") == 0x2F80 == reference_crc(b"123456789")
    assert crc_modbus(b"123456789") == 0x4B37
    assert crc_hj212(b"") == 0xFFFF


@pytest.mark.parametrize("size", [*range(0, 70), 255, 256, 257, 1023, 1024, 1025, 9999, 10000, 12345])
def test_fast_crc_matches_the_standard_algorithm_at_every_length(size: int) -> None:
    data = bytes((index * 37 + size) % 256 for index in range(size))
    assert crc_hj212(data) == reference_crc(data)


def test_standard_example_crc_is_1c80_not_the_prose_typo_1c08() -> None:
    data = STANDARD_EXAMPLE[6:-6]
    assert len(data) == 101
    assert crc_hj212(data) == 0x1C80


# --- the published frames ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("comment", "frame"), PUBLIC, ids=[comment[:40] for comment, _ in PUBLIC])
def test_public_frame_verdict(comment: str, frame: bytes) -> None:
    assert comment.startswith(("valid", "INVALID")), "public-frames.txt: every frame needs a verdict comment"
    items = decode_all(frame)
    assert len(items) == 1
    if comment.startswith("valid"):
        assert isinstance(items[0], Packet)
        assert items[0].raw == frame
        assert reference_crc(items[0].data) == int(frame[-6:-2], 16)
    else:
        assert isinstance(items[0], BadPacket)
        assert items[0].reason == "crc"
        assert items[0].raw == frame


def test_public_frames_decode_to_their_fields_and_readings() -> None:
    assert len(PUBLIC) == 5, "public-frames.txt changed: update the expectations below"
    results = [packet_json(item) for _, frame in PUBLIC for item in decode_all(frame)]
    standard, old_style, lower_case, water, invalid = results
    assert (standard["qn"], standard["cn"], standard["flag"], standard["version"]) == (
        "20160801085857223",
        "1062",
        5,
        "2017",
    )
    assert standard["readings"] == []
    assert standard["data_time"] is None
    assert old_style["qn"] is None
    assert old_style["flag"] is None
    assert old_style["version"] == "2005"
    assert old_style["data_time"] == "20160824003817000"
    assert old_style["readings"] == [
        {"code": "w00000", "kind": "Rtd", "value": 36.91, "flag": None},
        {"code": "w01018", "kind": "Rtd", "value": 231.0, "flag": "N"},
        {"code": "w21003", "kind": "Rtd", "value": 1.803, "flag": "N"},
    ]
    assert [r["code"] for r in lower_case["readings"]] == ["w01018", "w00000", "w21003"]
    assert (water["st"], water["mn"], water["flag"], water["version"]) == ("21", "ZLDSZ20210127", 8, "2025")
    assert len(water["readings"]) == 11
    assert water["readings"][7] == {"code": "w21003", "kind": "Rtd", "value": 0.09055002, "flag": "N"}
    assert invalid["ok"] is False
    assert invalid["error"].startswith("crc: ")


def test_old_codes_keep_the_code_as_sent() -> None:
    old_style = only_packet(PUBLIC[1][1])
    readings = message_from_packet(old_style).readings
    assert [(r.code, r.original_code) for r in readings] == [("w00000", "B01"), ("w01018", "011"), ("w21003", "060")]


def test_standard_example_asks_for_a_reply() -> None:
    packet = only_packet(STANDARD_EXAMPLE)
    assert packet.needs_reply
    assert packet.flag == 5
    assert packet.version == "2017"
    assert message_from_packet(packet).fields == {"RtdInterval": "30"}
    assert packet.tail == b"\r\n"
    assert packet.crc_kind == "hj212"


# --- CRC kinds and case ------------------------------------------------------------------------------------------


def _frame_with_two_crc_letters() -> bytes:
    for qn in range(1000):
        frame = encode_frame(qn=str(qn), st="32", cn="2011", pw="1", mn="M", flag=4, cp="DataTime=1")
        if sum(chr(c).isalpha() for c in frame[-6:-2]) >= 2:
            return frame
    raise AssertionError("no frame with two letters in its CRC")


def test_crc_field_is_compared_as_a_number_in_any_case() -> None:
    frame = _frame_with_two_crc_letters()
    crc = frame[-6:-2].decode()
    first_letter = next(index for index, char in enumerate(crc) if char.isalpha())
    mixed = crc.lower()[: first_letter + 1] + crc[first_letter + 1 :]
    for variant in (crc.upper(), crc.lower(), mixed):
        changed = frame[:-6] + variant.encode() + b"\r\n"
        assert only_packet(changed).raw == changed


@pytest.mark.parametrize("bad_crc", [b"1C81", b"1C08", b"0000", b"1C8G", b"+C80"])
def test_wrong_crc_is_a_bad_packet(bad_crc: bytes) -> None:
    frame = STANDARD_EXAMPLE.replace(b"1C80", bad_crc)
    [item] = decode_all(frame)
    assert isinstance(item, BadPacket)
    assert item.reason == "crc"
    assert item.raw == frame


def _modbus_frame(mn: str) -> bytes:
    return encode_frame(qn="1", st="32", cn="2011", pw="1", mn=mn, flag=4, cp="DataTime=1;a-Rtd=1", crc_kind="modbus")


def test_modbus_crc_is_accepted_only_for_a_device_configured_for_it() -> None:
    frame = _modbus_frame("MODBUSDEVICE")
    crc_for = {"MODBUSDEVICE": "modbus"}.get
    [rejected] = decode_all(frame)
    assert isinstance(rejected, BadPacket)
    assert rejected.reason == "crc"
    packet = only_packet(frame, crc_for=lambda mn: crc_for(mn or "", "hj212"))
    assert packet.crc_kind == "modbus"
    assert int(frame[-6:-2], 16) == crc_modbus(packet.data) != crc_hj212(packet.data)


def test_a_modbus_device_is_refused_the_hj212_crc() -> None:
    frame = encode_frame(qn="1", st="32", cn="2011", pw="1", mn="M1", flag=4, cp="")
    [item] = decode_all(frame, crc_for=lambda mn: "modbus")
    assert isinstance(item, BadPacket)
    assert item.reason == "crc"


def test_other_devices_keep_the_hj212_crc_when_one_is_modbus() -> None:
    stream = (
        _modbus_frame("M1")
        + _modbus_frame("M2")
        + encode_frame(qn="1", st="32", cn="2011", pw="1", mn="M2", flag=4, cp="")
    )
    items = decode_all(stream, crc_for=lambda mn: "modbus" if mn == "M1" else "hj212")
    assert [type(item).__name__ for item in items] == ["Packet", "BadPacket", "Packet"]
    assert [item.crc_kind for item in items if isinstance(item, Packet)] == ["modbus", "hj212"]


def test_unknown_crc_kind_from_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        StreamDecoder(crc_for=lambda mn: "crc32").feed(STANDARD_EXAMPLE)


# --- lengths, encodings and header quirks ------------------------------------------------------------------------


def test_length_counts_utf8_bytes_of_chinese_text() -> None:
    frame = encode_frame(qn="1", st="32", cn="3020", pw="1", mn="M", flag=4, cp="i11001-Info=//清洗管路//")
    data = frame[6:-6]
    assert int(frame[2:6]) == len(data) > len(data.decode("utf-8"))
    message = message_from_packet(only_packet(frame))
    assert message.fields["i11001-Info"] == "//清洗管路//"
    assert message.readings[0].value is None


def test_length_counted_in_characters_is_rejected() -> None:
    frame = encode_frame(qn="1", st="32", cn="3020", pw="1", mn="M", flag=4, cp="i11001-Info=//清洗//")
    data = frame[6:-6]
    wrong = b"##%04d" % len(data.decode("utf-8")) + frame[6:]
    items = decode_all(wrong)
    assert [item.reason for item in items if isinstance(item, BadPacket)] == ["length"]
    assert not any(isinstance(item, Packet) for item in items)


def test_data_that_is_not_utf8_is_an_encoding_error() -> None:
    data = "QN=1;ST=32;CN=3020;PW=1;MN=M;Flag=4;CP=&&i11001-Info=//清洗//&&".encode("gbk")
    frame = b"##%04d%s%04X\r\n" % (len(data), data, reference_crc(data))
    [item] = decode_all(frame)
    assert isinstance(item, BadPacket)
    assert item.reason == "encoding"


def _with_data(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"##%04d%s%04X\r\n" % (len(data), data, reference_crc(data))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5CP=&&&&", ("1", "32", "2011", "M", 5)),  # missing ; (appendix C.12)
        ("QN=1; ST=32 ;CN=2011;PW=1;MN=M; Flag=5;CP=&&&&", ("1", "32", "2011", "M", 5)),  # blanks
        ("MN=M;CN=2011;ST=32;Extra=x;CP=&&&&", (None, "32", "2011", "M", None)),  # any order, unknown names
        ("CP=&&&&", (None, None, None, None, None)),
    ],
)
def test_header_variants(text: str, expected: tuple[object, ...]) -> None:
    packet = only_packet(_with_data(text))
    assert (packet.qn, packet.st, packet.cn, packet.mn, packet.flag) == expected


@pytest.mark.parametrize(
    "text",
    [
        "QN=1;ST=32;Flag=256;CP=&&&&",
        "QN=1;ST=32;Flag=x;CP=&&&&",
        "QN=1;ST=32;PNUM=٣;CP=&&&&",
        "QN=1;ST32;CP=&&&&",
        "QN=1;=32;CP=&&&&",
        "QN=1;ST=32;&&",
        "CP=&&",
    ],
)
def test_malformed_headers_are_header_errors(text: str) -> None:
    [item] = decode_all(_with_data(text))
    assert isinstance(item, BadPacket), item
    assert item.reason == "header", item


def test_flag_version_bits() -> None:
    versions = {}
    for flag in (0, 1, 4, 5, 7, 8, 9, 12, 255):
        packet = only_packet(encode_frame(qn="1", st="32", cn="2011", pw="1", mn="M", flag=flag, cp=""))
        versions[flag] = (packet.version, packet.needs_reply)
    assert versions == {
        0: ("2005", False),
        1: ("2005", True),
        4: ("2017", False),
        5: ("2017", True),
        7: ("2017", True),
        8: ("2025", False),
        9: ("2025", True),
        12: ("unknown", False),
        255: ("unknown", True),
    }


# --- JSON of the decode command ----------------------------------------------------------------------------------

JSON_KEYS = ["ok", "error", "qn", "st", "cn", "mn", "flag", "version", "pnum", "pno", "data_time", "readings"]


def test_packet_json_shape_for_good_and_bad_frames() -> None:
    good = packet_json(only_packet(PUBLIC[3][1]))
    [bad_item] = decode_all(PUBLIC[4][1])
    bad = packet_json(bad_item)
    assert list(good) == JSON_KEYS == list(bad)
    assert good["ok"] is True
    assert good["error"] is None
    assert bad == {**dict.fromkeys(JSON_KEYS), "ok": False, "error": bad["error"], "readings": []}
    assert bad["error"].startswith("crc: ")
    assert set(good["readings"][0]) == {"code", "kind", "value", "flag"}
    json.dumps(good, ensure_ascii=False)


def test_packet_json_of_a_packet_with_a_malformed_cp_keeps_its_header() -> None:
    packet = only_packet(_with_data("QN=7;ST=32;CN=2011;PW=1;MN=M;Flag=4;CP=&&a-Rtd=1b-Rtd=2&&"))
    shown = packet_json(packet)
    assert shown["ok"] is False
    assert shown["error"].startswith("cp: ")
    assert (shown["qn"], shown["mn"], shown["readings"]) == ("7", "M", [])
