"""HJ 212 messages: CP parsing, the code table, split-packet reassembly, replies and the encoder's refusals."""

from __future__ import annotations

import dataclasses

import pytest

from device_gateway.errors import Hj212Error
from device_gateway.protocols import hj212_cp
from device_gateway.protocols.hj212 import (
    BadPacket,
    Packet,
    Reassembler,
    StreamDecoder,
    encode_frame,
    encode_readings_cp,
    map_code,
    message_from_packet,
    packet_json,
    parse_message,
    reply_9011,
    reply_9012,
    reply_for,
)
from device_gateway.protocols.hj212_codes import code_info, codes, old_codes
from device_gateway.protocols.hj212_cp import parse_cp
from evidence.readings import Reading


def packet_of(frame: bytes) -> Packet:
    decoder = StreamDecoder()
    [item] = decoder.feed(frame) + decoder.flush()
    assert isinstance(item, Packet), item
    return item


def upload(
    cp: str, *, flag: int = 4, qn: str | None = "20160801085857223", pnum: int | None = None, pno: int | None = None
) -> Packet:
    return packet_of(
        encode_frame(qn=qn, st="32", cn="2011", pw="123456", mn="M1", flag=flag, cp=cp, pnum=pnum, pno=pno)
    )


# --- CP ----------------------------------------------------------------------------------------------------------


def test_minute_data_cp_from_appendix_c() -> None:
    cp = parse_cp(
        "DataTime=20160801084000;w00000-Cou=10.5,w00000-Min=16.4,w00000-Avg=17.5,w00000-Max=20.1,w00000-Flag=N;"
        "w01018-ZsAvg=40.1,w01018-Flag=D,w01018-EFlag=A01;w01018-SampleTime=20160801070000"
    )
    assert cp.data_time == "20160801084000"
    assert [(r.code, r.kind, r.value, r.flag) for r in cp.readings] == [
        ("w00000", "Cou", 10.5, "N"),
        ("w00000", "Min", 16.4, "N"),
        ("w00000", "Avg", 17.5, "N"),
        ("w00000", "Max", 20.1, "N"),
        ("w01018", "ZsAvg", 40.1, "D"),
    ]
    assert cp.fields == {"w01018-EFlag": "A01", "w01018-SampleTime": "20160801070000"}
    assert not cp.readings[4].comparable
    assert cp.readings[0].comparable


def test_values_that_are_not_numbers_become_none_and_parsing_goes_on() -> None:
    cp = parse_cp("a-Rtd=nan,b-Rtd=inf,c-Rtd=1_0,d-Rtd=,e-Rtd=--,f-Rtd=-3.5,g-Rtd=1e-3,h-Rtd=1e999")
    values = {r.code: r.value for r in cp.readings}
    assert values == {"a": None, "b": None, "c": None, "d": None, "e": None, "f": -3.5, "g": 0.001, "h": None}
    assert cp.fields == {"a-Rtd": "nan", "b-Rtd": "inf", "c-Rtd": "1_0", "e-Rtd": "--", "h-Rtd": "1e999"}


@pytest.mark.parametrize(
    "cp", ["a-Rtd=1b-Rtd=2", "a-Rtd=1;b-Rtd", "=1", "a-Rtd==1", "a-Rtd=1 b-Rtd=2", "DataTime=1;x=1=2", " =1"]
)
def test_malformed_cp_is_a_cp_error(cp: str) -> None:
    with pytest.raises(Hj212Error) as caught:
        parse_cp(cp)
    assert caught.value.reason == "cp"


def test_malformed_cp_leaves_the_packet_valid() -> None:
    packet = upload("DataTime=1;a34004-Rtd=1a34002-Rtd=2")
    assert packet.cp == "DataTime=1;a34004-Rtd=1a34002-Rtd=2"
    with pytest.raises(Hj212Error) as caught:
        message_from_packet(packet)
    assert caught.value.reason == "cp"


def test_blanks_empty_items_and_log_text_with_separators() -> None:
    cp = parse_cp(" DataTime=20160801085857 ;; PolId=w01018;i11001-Info=//清洗;管路,a=b//;i13004-Info=168.0,")
    assert cp.data_time == "20160801085857"
    assert cp.fields == {"PolId": "w01018", "i11001-Info": "//清洗;管路,a=b//"}
    assert [(r.code, r.kind, r.value) for r in cp.readings] == [("i11001", "Info", None), ("i13004", "Info", 168.0)]


def test_empty_cp_variants() -> None:
    for text in ("", " ", ";", ",;"):
        assert parse_cp(text) == hj212_cp.CpContent(None, (), {})


def test_flags_apply_to_their_code_across_the_cp() -> None:
    cp = parse_cp("B01-Rtd=36.91;011-Rtd=231.0;011-Flag=F;060-Rtd=1.8,060-Flag=")
    assert [(r.code, r.flag, r.original_code) for r in cp.readings] == [
        ("w00000", None, "B01"),
        ("w01018", "F", "011"),
        ("w21003", None, "060"),
    ]


def test_decoded_packet_and_message_equal_constructed_ones() -> None:
    packet = upload("DataTime=1;a-Rtd=2")
    assert packet == Packet(**{field.name: getattr(packet, field.name) for field in dataclasses.fields(Packet)})
    message = message_from_packet(packet)
    assert message == hj212_cp.Message(**{f.name: getattr(message, f.name) for f in dataclasses.fields(message)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.qn = "x"  # type: ignore[misc]


# --- codes -------------------------------------------------------------------------------------------------------


def test_code_table_covers_tables_b1_b2_b3() -> None:
    table = codes()
    assert {entry.table for entry in table.values()} == {"B.1", "B.2", "B.3"}
    assert sum(entry.table == "B.1" for entry in table.values()) == 63
    assert sum(entry.table == "B.3" for entry in table.values()) == 12
    assert len(table) == 196
    assert table["a34004"].name_zh == "细微颗粒物 PM2.5"
    assert table["w01018"].unit == "毫克/升"
    assert all(entry.name_en and entry.name_zh for entry in table.values())


def test_old_to_new_code_mapping() -> None:
    mapping = old_codes()
    assert mapping["011"] == "w01018"
    assert mapping["060"] == "w21003"
    assert mapping["B01"] == "w00000"
    assert mapping["B02"] == "a00000"
    assert mapping["01"] == "a34013"
    assert mapping["S01"] == "a19001"
    assert len(mapping) == len(set(mapping.values())) == 93  # every old code listed once, to one new code
    assert map_code("011") == ("w01018", "011")
    assert map_code("w01018") == ("w01018", None)
    assert map_code("zz") == ("zz", None)
    info = code_info("060")
    assert info is not None
    assert info.code == "w21003"
    assert info.code_2005 == "060"


# --- reassembly --------------------------------------------------------------------------------------------------

SPLIT_CPS = ["DataTime=20160801080000;w00000-Cou=63.0,w00000-Flag=N", "DataTime=20160801080000;w01018-Cou=63.0", "x=1"]


def split_set(*, flag: int = 6, pnum: int = 3, qn_base: int = 534) -> list[Packet]:
    return [
        upload(cp, flag=flag, qn=f"20160801085857{qn_base + pno}", pnum=pnum, pno=pno + 1)
        for pno, cp in enumerate(SPLIT_CPS[:pnum])
    ]


def test_unsplit_packets_pass_straight_through() -> None:
    packet = upload("DataTime=1;a-Rtd=1")
    message = Reassembler().add(packet)
    assert message is not None
    assert message.packets == (packet,)


def test_split_packets_in_order() -> None:
    first, second, third = split_set()
    joiner = Reassembler()
    assert joiner.add(first) is None
    assert joiner.add(second) is None
    message = joiner.add(third)
    assert message is not None
    assert message.packets == (first, second, third)
    assert [r.code for r in message.readings] == ["w00000", "w01018"]
    assert message.data_time == "20160801080000"
    assert message.fields == {"x": "1"}
    assert message.qn == first.qn
    assert joiner.pending() == []
    assert joiner.expire() == []
    assert packet_json(message)["pnum"] == 3
    assert packet_json(message)["pno"] is None


def test_split_packets_out_of_order_and_duplicated() -> None:
    first, second, third = split_set()
    joiner = Reassembler()
    assert joiner.add(third) is None
    assert joiner.add(first) is None
    assert joiner.add(third) is None
    message = joiner.add(second)
    assert message is not None
    assert message.packets == (first, second, third)
    assert joiner.add(second) is None  # a late retransmission of a completed set
    assert joiner.pending() == []


def test_incomplete_sets_are_pending_then_expired() -> None:
    first, second, _ = split_set()
    joiner = Reassembler()
    joiner.add(second, at=10.0)
    joiner.add(first, at=20.0)
    assert joiner.pending() == [(first, second)]
    assert joiner.expire(before=15.0) == []
    assert joiner.expire(before=25.0) == [(first, second)]
    assert joiner.pending() == []


def test_a_new_packet_with_a_held_pno_abandons_the_old_set() -> None:
    old_first, old_second, _ = split_set()
    new_first = upload("DataTime=2;a-Rtd=9", flag=6, qn="20160801085900001", pnum=3, pno=1)
    joiner = Reassembler()
    joiner.add(old_first)
    joiner.add(old_second)
    assert joiner.add(new_first) is None
    assert joiner.pending() == [(new_first,)]
    assert joiner.expire(before=-1.0) == [(old_first, old_second)]


def test_pending_sets_are_bounded() -> None:
    joiner = Reassembler(max_sets=2)
    firsts = [
        packet_of(encode_frame(qn="1", st="32", cn=str(2000 + n), pw="1", mn="M", flag=6, cp="", pnum=2, pno=1))
        for n in range(3)
    ]
    for packet in firsts:
        assert joiner.add(packet) is None
    assert joiner.pending() == [(firsts[1],), (firsts[2],)]
    assert joiner.expire(before=-1.0) == [(firsts[0],)]


def test_held_packets_are_bounded() -> None:
    joiner = Reassembler(max_held=4)
    sets = [
        [
            packet_of(
                encode_frame(qn=str(pno), st="32", cn=str(2000 + n), pw="1", mn="M", flag=6, cp="", pnum=9, pno=pno)
            )
            for pno in (1, 2, 3)
        ]
        for n in range(2)
    ]
    for packet in sets[0] + sets[1][:2]:
        assert joiner.add(packet) is None
    assert joiner.pending() == [tuple(sets[1][:2])]  # the first set (3 packets) had to go: 5 > 4
    assert joiner.expire() == [tuple(sets[1][:2])]  # and abandoned sets count too, so it is forgotten
    joiner.add(sets[1][2])
    joiner.add(sets[0][0])
    assert joiner.pending() == [(sets[1][2],), (sets[0][0],)]  # expired sets start afresh


@pytest.mark.parametrize(("pnum", "pno"), [(2, 0), (2, 3), (5000, 1)])
def test_impossible_packet_numbers_are_split_errors(pnum: int, pno: int) -> None:
    packet = upload("", flag=6, pnum=pnum, pno=pno)
    with pytest.raises(Hj212Error) as caught:
        Reassembler().add(packet)
    assert caught.value.reason == "split"


def test_split_flag_without_numbers_passes_as_unsplit() -> None:
    packet = upload("a-Rtd=1", flag=6)
    message = Reassembler().add(packet)
    assert message is not None
    assert message.packets == (packet,)


def test_parse_message_needs_packets() -> None:
    with pytest.raises(Hj212Error):
        parse_message(())


# --- replies -----------------------------------------------------------------------------------------------------


def test_9014_only_when_flag_bit_0_asks() -> None:
    assert reply_for(upload("a-Rtd=1", flag=4), now="20240101000000000") is None
    reply = reply_for(upload("a-Rtd=1", flag=5), now="20240101000000000")
    assert reply is not None
    answer = packet_of(reply)
    assert (answer.qn, answer.st, answer.cn, answer.cp, answer.flag) == ("20160801085857223", "91", "9014", "", 4)
    assert (answer.mn, answer.pw, answer.needs_reply) == ("M1", "123456", False)


def test_reply_keeps_version_bits_and_crc_kind() -> None:
    frame = encode_frame(qn="7", st="32", cn="2011", pw="1", mn="M9", flag=9, cp="", crc_kind="modbus")
    packet = packet_of_modbus(frame)
    reply = reply_for(packet, now="1")
    assert reply is not None
    answer = packet_of_modbus(reply)
    assert (answer.flag, answer.version, answer.crc_kind, answer.qn) == (8, "2025", "modbus", "7")


def packet_of_modbus(frame: bytes) -> Packet:
    [item] = StreamDecoder(crc_for=lambda mn: "modbus").feed(frame + b"##")
    assert isinstance(item, Packet)
    return item


def test_replies_to_notifications_interactions_and_uploads_without_qn() -> None:
    notice = packet_of(encode_frame(qn="5", st="32", cn="1013", pw="1", mn="M", flag=5, cp="PolId=w01018"))
    assert packet_of(reply_for(notice, now="1") or b"").cn == "9013"
    interaction = packet_of(encode_frame(qn="5", st="91", cn="9014", pw="1", mn="M", flag=5, cp=""))
    assert reply_for(interaction, now="1") is None
    no_qn = upload("a-Rtd=1", flag=5, qn=None)
    assert packet_of(reply_for(no_qn, now="20240101000000123") or b"").qn == "20240101000000123"


def test_9011_and_9012_answer_a_request() -> None:
    request = packet_of(
        encode_frame(qn="20160801085857223", st="32", cn="1000", pw="123456", mn="M", flag=5, cp="OverTime=5;ReCount=3")
    )
    accepted, done = packet_of(reply_9011(request)), packet_of(reply_9012(request, exe_rtn=100))
    assert (accepted.cn, accepted.qn, accepted.st, accepted.flag, accepted.cp) == (
        "9011",
        request.qn,
        "91",
        4,
        "QnRtn=1",
    )
    assert (done.cn, done.cp) == ("9012", "ExeRtn=100")
    assert message_from_packet(done).fields == {"ExeRtn": "100"}


# --- encoder -----------------------------------------------------------------------------------------------------


def test_encode_readings_cp_groups_codes_and_writes_codes_as_sent() -> None:
    readings = [
        Reading("a34004", "Rtd", 57.0, "N"),
        Reading("a34004", "ZsRtd", 0.00001, "N"),
        Reading("w01018", "Rtd", 231.5, "N", "011"),
        Reading("a01001", "Rtd", None),
    ]
    cp = encode_readings_cp("20240101120000", readings)
    assert cp == (
        "DataTime=20240101120000;a34004-Rtd=57.0,a34004-ZsRtd=0.00001,a34004-Flag=N;011-Rtd=231.5,011-Flag=N;a01001-Rtd="
    )
    assert parse_cp(cp).readings == tuple(readings)


@pytest.mark.parametrize(
    "readings",
    [
        [Reading("a;b", "Rtd", 1.0)],
        [Reading("a", "Flag", 1.0)],
        [Reading("a", "Rtd", float("nan"))],
        [Reading("a", "Rtd", 1.0, "N"), Reading("a", "Avg", 1.0, "D")],
        [Reading("a", "Rtd", 1.0, "N=")],
    ],
)
def test_encode_readings_cp_refuses_what_it_cannot_write(readings: list[Reading]) -> None:
    with pytest.raises(Hj212Error) as caught:
        encode_readings_cp("20240101120000", readings)
    assert caught.value.reason == "encode"


@pytest.mark.parametrize(
    "changes",
    [
        {"pnum": 2},
        {"crc_kind": "crc32"},
        {"tail": b"\r\r"},
        {"cp": "a&&b"},
        {"flag": 256},
        {"mn": "M;N"},
        {"pw": "p w"},
    ],
)
def test_encode_frame_refuses_what_it_cannot_write(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {"qn": "1", "st": "32", "cn": "2011", "pw": "1", "mn": "M", "flag": 4, "cp": ""}
    with pytest.raises(Hj212Error) as caught:
        encode_frame(**{**arguments, **changes})  # type: ignore[arg-type]
    assert caught.value.reason == "encode"


def test_encode_frame_refuses_more_than_four_digits_of_length() -> None:
    with pytest.raises(Hj212Error) as caught:
        encode_frame(qn="1", st="32", cn="2011", pw="1", mn="M", flag=4, cp="a=" + "1" * 9999)
    assert caught.value.reason == "length"


def test_standard_example_is_reproduced_by_the_encoder() -> None:
    frame = encode_frame(
        qn="20160801085857223",
        st="32",
        cn="1062",
        pw="100000",
        mn="010000A8900016F000169DC0",
        flag=5,
        cp="RtdInterval=30",
    )
    assert frame.endswith(b"&&1C80\r\n")
    assert frame.startswith(b"##0101QN=")
    assert not isinstance(packet_of(frame), BadPacket)
