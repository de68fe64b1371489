"""Register maps, register decoding, read planning and RTU frames (device_gateway.protocols.modbus)."""

from __future__ import annotations

import itertools
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.errors import ConfigError, ModbusError
from device_gateway.protocols.modbus import (
    MAX_READ,
    ORDERS,
    TYPES,
    Register,
    RegisterMap,
    crc16_modbus,
    decode,
    decode_frames,
    decode_register,
    encode_register,
    load_map,
    parse_map,
    parse_response,
    read_plan,
    request_frame,
    shipped_maps,
    split_frames,
)

HEADER = 'name = "test-map"\ntitle = "Test"\nsource = "example: unit test"\n'
PH = '[[registers]]\nname = "ph"\naddress = 0\ntype = "FLOAT32"\ncode = "w01001"\nunit = "pH"\n'


def _register(kind: str = "FLOAT32", order: str = "ABCD", scale: float = 1.0, offset: float = 0.0) -> Register:
    byte_order, word_order = ORDERS[order]
    count = TYPES[kind][1]
    return Register("r", 0, count, kind, byte_order, word_order, scale, offset, "w01001", "pH", "holding")


# --- shipped maps -----------------------------------------------------------------------------------------


def test_at_least_a_water_and_an_air_instrument_are_shipped() -> None:
    maps = [load_map(name) for name in shipped_maps()]
    documented = [m for m in maps if not m.example]
    assert any(all(r.code.startswith("w") for r in m.registers) for m in documented)
    assert any(all(r.code.startswith("a") for r in m.registers) for m in documented)


@pytest.mark.parametrize("name", shipped_maps())
def test_every_shipped_map_loads_and_cites_its_source(name: str) -> None:
    register_map = load_map(name)
    assert register_map.name == name
    assert register_map.registers
    assert register_map.source.strip()
    assert register_map.example == register_map.source.startswith("example")
    if not register_map.example:
        assert register_map.source_url.startswith("https://")
    assert all(register.unit for register in register_map.registers)
    assert all(count <= register_map.max_block <= MAX_READ for _, _, count in read_plan(register_map))


def test_shipped_map_values_follow_their_documents() -> None:
    troll = load_map("insitu-aqua-troll-400")
    assert troll.register("ph").address == 1537  # document register 1538, 1-based
    assert read_plan(troll) == [("holding", 37, 10), ("holding", 569, 2), ("holding", 1537, 2)]
    ysi = load_map("ysi-odo-rtu")
    assert read_plan(ysi) == [("input", 2, 12)]  # even start and even count, as the manual requires
    pm = load_map("deltaohm-pmsense")
    assert {r.code: (r.address, r.scale, r.unit) for r in pm.registers}["a34004"] == (4, 0.1, "ug/m3")


def test_load_map_by_path_and_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "my-sonde.toml"
    path.write_text(HEADER.replace('name = "test-map"\n', "") + PH, encoding="utf-8")
    assert load_map(str(path)).name == "my-sonde"
    with pytest.raises(ConfigError, match="no shipped register map 'nope'"):
        load_map("nope")
    with pytest.raises(ConfigError, match="cannot read file"):
        load_map(str(tmp_path / "missing.toml"))


# --- invalid maps -----------------------------------------------------------------------------------------

INVALID = {
    "bad type": (PH.replace("FLOAT32", "FLOAT64"), "type 'FLOAT64' is not one of"),
    "overlap": (
        PH + PH.replace('"ph"', '"ph2"').replace("w01001", "w01002"),
        r"'ph' \(0-1\) and 'ph2' \(0-1\) overlap",
    ),
    "partial overlap": (
        PH + PH.replace('"ph"', '"x"').replace("address = 0", "address = 1").replace("w01001", "w01002"),
        "overlap in the holding registers",
    ),
    "bad order": (PH + 'order = "ACBD"\n', "order 'ACBD' is not one of"),
    "bad byte order": (PH + 'byte_order = "middle"\n', "byte_order 'middle' is not 'big' or 'little'"),
    "contradicting order": (PH + 'order = "CDAB"\nword_order = "big"\n', "contradicts order 'CDAB'"),
    "count mismatch": (PH + "count = 1\n", "count 1 does not match type FLOAT32"),
    "missing code": (PH.replace('code = "w01001"\n', ""), "register 'ph': missing code"),
    "bad code": (PH.replace("w01001", "pH"), "code 'pH' is not an HJ 212 pollutant code"),
    "missing unit": (PH.replace('unit = "pH"\n', ""), "register 'ph': missing unit"),
    "empty unit": (PH.replace('unit = "pH"', 'unit = " "'), "unit must not be empty"),
    "bad function": (PH + 'function = "coil"\n', "function 'coil' is not 'holding'"),
    "unknown key": (PH + "adress = 3\n", "unknown key\\(s\\) adress"),
    "address range": (PH.replace("address = 0", "address = 65535"), "address 65535 is not in 0..65534"),
    "address type": (PH.replace("address = 0", 'address = "0"'), "address must be an integer"),
    "zero scale": (PH + "scale = 0\n", "scale must not be zero"),
    "infinite offset": (PH + "offset = inf\n", "offset must be finite"),
    "duplicate code": (
        PH + PH.replace('"ph"', '"ph2"').replace("address = 0", "address = 2"),
        "code w01001 is used by both 'ph' and 'ph2'",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_maps_name_the_problem(case: str) -> None:
    registers, message = INVALID[case]
    with pytest.raises(ConfigError, match=message):
        parse_map(HEADER + registers)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [", "not valid TOML"),
        (HEADER, "missing registers"),
        (HEADER + "registers = []\n", "registers must be one or more"),
        ('title = "T"\nsource = "s"\n' + PH + "[extra]\n", "unknown key\\(s\\) extra"),
        ('name = "t"\nsource = "s"\n' + PH, "missing title"),
        ('name = "t"\ntitle = "T"\nsource = ""\n' + PH, "source must not be empty"),
        ('name = "Bad Name"\ntitle = "T"\nsource = "s"\n' + PH, "name 'Bad Name' must be lower-case"),
        (HEADER + 'format = "other/2"\n' + PH, "unknown format 'other/2'"),
        (HEADER + "max_block = 126\n" + PH, "max_block 126 is not in 2..125"),
        (HEADER + "[defaults]\ncode = 'w01001'\n" + PH, "defaults: unknown key\\(s\\) code"),
    ],
)
def test_invalid_map_headers_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_map(text)


def test_defaults_apply_and_registers_override_them() -> None:
    text = HEADER + '[defaults]\ntype = "INT16"\nscale = 0.1\nfunction = "input"\n'
    text += '[[registers]]\nname = "t"\naddress = 0\ncode = "w01010"\nunit = "°C"\n'
    text += '[[registers]]\nname = "ph"\naddress = 4\ntype = "FLOAT32"\nscale = 1\ncode = "w01001"\nunit = "pH"\n'
    temperature, ph = parse_map(text).registers
    assert (temperature.type, temperature.scale, temperature.function, temperature.unit) == (
        "INT16",
        0.1,
        "input",
        "degC",
    )
    assert (ph.type, ph.count, ph.scale, ph.function) == ("FLOAT32", 2, 1.0, "input")


# --- decoding ---------------------------------------------------------------------------------------------

# value, then the two words as sent for ABCD, CDAB, BADC, DCBA (hand-computed)
FLOAT_ONE = {"ABCD": [0x3F80, 0x0000], "CDAB": [0x0000, 0x3F80], "BADC": [0x803F, 0x0000], "DCBA": [0x0000, 0x803F]}
FLOAT_7_1 = {"ABCD": [0x40E3, 0x3333], "CDAB": [0x3333, 0x40E3], "BADC": [0xE340, 0x3333], "DCBA": [0x3333, 0xE340]}
INT_12345678 = {"ABCD": [0x1234, 0x5678], "CDAB": [0x5678, 0x1234], "BADC": [0x3412, 0x7856], "DCBA": [0x7856, 0x3412]}
INT_MINUS_2 = {"ABCD": [0xFFFF, 0xFFFE], "CDAB": [0xFFFE, 0xFFFF], "BADC": [0xFFFF, 0xFEFF], "DCBA": [0xFEFF, 0xFFFF]}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_decoding_each_byte_and_word_order(order: str) -> None:
    assert decode_register(_register("FLOAT32", order), FLOAT_ONE[order]) == 1.0
    assert decode_register(_register("FLOAT32", order), FLOAT_7_1[order]) == 7.1
    assert decode_register(_register("INT32", order), INT_12345678[order]) == 0x12345678
    assert decode_register(_register("UINT32", order), INT_12345678[order]) == 0x12345678
    assert decode_register(_register("INT32", order), INT_MINUS_2[order]) == -2
    assert decode_register(_register("UINT32", order), INT_MINUS_2[order]) == 0xFFFFFFFE
    assert encode_register(_register("FLOAT32", order), 7.1) == FLOAT_7_1[order]
    assert encode_register(_register("INT32", order), -2) == INT_MINUS_2[order]


def test_sixteen_bit_types_and_byte_order() -> None:
    assert decode_register(_register("INT16"), [0xFFFF]) == -1
    assert decode_register(_register("UINT16"), [0xFFFF]) == 65535
    assert decode_register(_register("INT16"), [0x8000]) == -32768
    assert decode_register(_register("UINT16", "BADC"), [0x3412]) == 0x1234
    assert decode_register(_register("UINT16", "CDAB"), [0x1234]) == 0x1234  # word order means nothing here


def test_scale_and_offset() -> None:
    assert decode_register(_register("INT16", scale=0.1), [253]) == 25.3
    assert decode_register(_register("INT16", scale=0.1, offset=-40), [653]) == 25.3
    assert decode_register(_register("INT16", scale=0.1), [0xFFF6]) == -1.0
    assert decode_register(_register("UINT32", scale=0.01), [0x0000, 0x0DC7]) == 35.27
    assert decode_register(_register("FLOAT32", scale=1000.0), FLOAT_7_1["ABCD"]) == 7100.0
    assert encode_register(_register("INT16", scale=0.1, offset=-40), 25.3) == [653]


def test_not_a_number_and_bad_words() -> None:
    assert decode_register(_register("FLOAT32"), [0xFFFF, 0xFFFF]) is None  # YSI's "not available"
    assert decode_register(_register("FLOAT32"), [0x7F80, 0x0000]) is None  # +inf
    with pytest.raises(ModbusError):
        decode_register(_register("FLOAT32"), [0x3F80])
    with pytest.raises(ModbusError):
        decode_register(_register("UINT16"), [0x10000])
    with pytest.raises(ModbusError, match="does not fit INT16"):
        encode_register(_register("INT16", scale=0.1), 3276.8)
    with pytest.raises(ModbusError, match="does not fit UINT16"):
        encode_register(_register("UINT16"), -1)


TYPE_AND_ORDER = st.tuples(st.sampled_from(sorted(TYPES)), st.sampled_from(sorted(ORDERS)))


@given(TYPE_AND_ORDER, st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2), st.sampled_from([1, 0.1, 0.01, 10]))
def test_words_decode_then_encode_to_the_same_words(
    kind_order: tuple[str, str], words: list[int], scale: float
) -> None:
    kind, order = kind_order
    register = _register(kind, order, scale=scale if kind != "FLOAT32" else 1.0, offset=-40 if kind != "FLOAT32" else 0)
    words = words[: register.count]
    value = decode_register(register, words)
    if value is None:  # NaN or infinity: no number to encode back
        assert kind == "FLOAT32"
        return
    assert encode_register(register, value) == words


@given(TYPE_AND_ORDER, st.floats(width=32, allow_nan=False, allow_infinity=False), st.integers(-(2**31), 2**32 - 1))
def test_values_encode_then_decode_to_the_same_value(kind_order: tuple[str, str], real: float, integer: int) -> None:
    kind, order = kind_order
    register = _register(kind, order)
    if kind == "FLOAT32":
        decoded = decode_register(register, encode_register(register, real))
        assert decoded is not None
        assert struct.pack(">f", decoded) == struct.pack(">f", real)  # equal within float32 precision
        return
    code = TYPES[kind][0]
    bits = 8 * struct.calcsize(code)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if code.islower() else (0, 2**bits - 1)
    value = min(max(integer, low), high)
    assert decode_register(register, encode_register(register, value)) == value


def test_decode_map_blocks() -> None:
    register_map = load_map("example-water-sonde")
    blocks: dict[tuple[str, int], list[int]] = {("holding", 0): [0] * 12}
    for register in register_map.registers:
        words = encode_register(register, register.sample)
        blocks[("holding", 0)][register.address : register.end] = words
    readings = decode(register_map, blocks)
    assert [(r.code, r.value, r.unit, r.kind, r.flag) for r in readings][:2] == [
        ("w01001", 7.1, "pH", "Rtd", "N"),
        ("w01009", 6.8, "mg/L", "Rtd", "N"),
    ]
    assert [r.value for r in readings] == [r.sample for r in register_map.registers]
    with pytest.raises(ModbusError, match="no block read covers holding 11"):
        decode(register_map, {("holding", 0): [0] * 11})


# --- read plans -------------------------------------------------------------------------------------------


def _map(registers: list[Register], max_gap: int = 0, max_block: int = MAX_READ) -> RegisterMap:
    return RegisterMap("m", "M", "example: test", tuple(registers), max_gap=max_gap, max_block=max_block)


LAYOUT = st.lists(
    st.tuples(st.sampled_from(["holding", "input"]), st.integers(0, 400), st.sampled_from([1, 2])),
    min_size=1,
    max_size=60,
)


@given(LAYOUT, st.integers(0, 10), st.integers(2, MAX_READ))
def test_read_plan_covers_every_register_exactly_once(layout: list[tuple[str, int, int]], gap: int, block: int) -> None:
    registers: list[Register] = []
    taken: set[tuple[str, int]] = set()
    for index, (function, address, count) in enumerate(layout):
        cells = {(function, address + i) for i in range(count)}
        if not cells & taken:
            taken |= cells
            kind = "UINT16" if count == 1 else "UINT32"
            registers.append(replace(_register(kind), name=f"r{index}", address=address, function=function))
    plan = read_plan(_map(registers, gap, block))
    assert all(1 <= count <= block for _, _, count in plan)
    for register in registers:
        covering = [p for p in plan if p[0] == register.function and p[1] <= register.address < p[1] + p[2]]
        assert len(covering) == 1
        assert register.end <= covering[0][1] + covering[0][2]
    ranges = sorted((f, s, s + c) for f, s, c in plan)
    assert all(a[0] != b[0] or a[2] <= b[1] for a, b in itertools.pairwise(ranges))


def test_read_plan_merges_neighbours_and_respects_gap_and_limit() -> None:
    def regs(*addresses: int) -> list[Register]:
        return [replace(_register("UINT16"), name=f"r{a}", address=a) for a in addresses]

    assert read_plan(_map(regs(0, 1, 2))) == [("holding", 0, 3)]
    assert read_plan(_map(regs(0, 2))) == [("holding", 0, 1), ("holding", 2, 1)]
    assert read_plan(_map(regs(0, 2), max_gap=1)) == [("holding", 0, 3)]
    assert read_plan(_map(regs(*range(130)))) == [("holding", 0, 125), ("holding", 125, 5)]
    assert read_plan(_map(regs(0, 1, 2, 3), max_block=2)) == [("holding", 0, 2), ("holding", 2, 2)]


# --- RTU frames -------------------------------------------------------------------------------------------


def test_crc_and_request_frames() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37  # CRC-16/MODBUS check value
    assert request_frame(1, "holding", 0, 10) == bytes.fromhex("01030000000ac5cd")
    assert request_frame(3, "input", 3, 3) == bytes.fromhex("03040003000341e9")


def test_response_frames_parse_split_and_reject_tampering() -> None:
    frame = bytes.fromhex("03040600b8016002691944")  # PM1.0 18.4, PM2.5 35.2, PM10 61.7 (x10)
    exception = bytes.fromhex("0183 02c0f1".replace(" ", ""))
    parsed = parse_response(frame)
    assert (parsed.unit_id, parsed.function_code, parsed.words) == (3, 4, (184, 352, 617))
    assert parse_response(exception).exception_code == 2
    assert split_frames(frame + exception + frame) == [frame, exception, frame]
    readings = decode_frames(load_map("deltaohm-pmsense"), frame, unit_id=3)
    assert [r.value for r in readings] == [18.4, 35.2, 61.7]
    tampered = frame[:4] + bytes([frame[4] ^ 1]) + frame[5:]
    with pytest.raises(ModbusError) as caught:
        decode_frames(load_map("deltaohm-pmsense"), tampered)
    assert caught.value.reason == "crc"
    with pytest.raises(ModbusError, match="truncated"):
        split_frames(frame[:-1])
    with pytest.raises(ModbusError, match="exception code 2"):
        decode_frames(load_map("deltaohm-pmsense"), exception)
    with pytest.raises(ModbusError, match="expected 1"):
        decode_frames(load_map("deltaohm-pmsense"), frame, unit_id=1)
    with pytest.raises(ModbusError, match="2 frame\\(s\\) for a plan of 1"):
        decode_frames(load_map("deltaohm-pmsense"), frame + frame)


def test_float32_values_read_as_their_shortest_decimal() -> None:
    for value in (7.1, 0.35, 486.0, -12.75, 1e-7, 3.4028235e38):
        words = encode_register(_register("FLOAT32"), value)
        assert decode_register(_register("FLOAT32"), words) == value
    assert decode_register(_register("FLOAT32"), [0x4049, 0x0FDB]) == 3.1415927  # float32 pi
