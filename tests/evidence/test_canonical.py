"""RFC 8785 canonical JSON: the RFC's published samples, refusals, strict parsing and round-trip properties."""

from __future__ import annotations

import json
import random
import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.canonical import canonical_bytes, canonical_text, is_canonical, loads
from evidence.errors import CanonicalJSONError

PROPERTY = settings(deadline=None, max_examples=200)

# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text (also what V8's JSON.stringify writes).
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_appendix_b_number_samples(bits: str, expected: str) -> None:
    assert canonical_text(_double(bits)) == expected


@pytest.mark.parametrize("expected", [text for _, text in APPENDIX_B] + ["100000000000000000000"])
def test_appendix_b_outputs_are_themselves_canonical(expected: str) -> None:
    # JSON numbers are IEEE doubles (I-JSON): "9007199254740992" is the double 2**53, a value with a canonical form.
    data = expected.encode()
    assert is_canonical(data)
    assert canonical_bytes(loads(data)) == data


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (1e30, "1e+30"),
        (1e-27, "1e-27"),
        (123e-20, "1.23e-18"),
        (0.1 + 0.2, "0.30000000000000004"),
        (2.0**60, "1152921504606847000"),
        (0, "0"),
        (-7, "-7"),
        (2**53 - 1, "9007199254740991"),
        (-(2**53) + 1, "-9007199254740991"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
    ],
)
def test_scalars(value: Any, expected: str) -> None:
    assert canonical_text(value) == expected


def test_rfc_section_3_2_4_example() -> None:
    source = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = (
        r'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        r""""string":"€$\u000f\nA'B\"\\\\\"/"}"""
    )
    assert canonical_bytes(loads(source)) == expected.encode("utf-8")


# --- strings -----------------------------------------------------------------------------------------------

SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped(code: int) -> None:
    expected = SHORT_ESCAPES.get(code, f"\\u{code:04x}")
    assert canonical_text(chr(code)) == f'"{expected}"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', b'"\\""'),
        ("\\", b'"\\\\"'),
        ("/", b'"/"'),
        ("\x7f", b'"\x7f"'),
        ("é€", '"é€"'.encode()),
        ("😀", b'"\xf0\x9f\x98\x80"'),
        ("\u2028\u2029", '"\u2028\u2029"'.encode()),
        ("取证", '"取证"'.encode()),
    ],
)
def test_only_quote_backslash_and_controls_are_escaped(text: str, expected: bytes) -> None:
    assert canonical_bytes(text) == expected


# --- member order ------------------------------------------------------------------------------------------


def _utf16_units(text: str) -> list[int]:
    """UTF-16 code units computed by hand (surrogate pairs for characters beyond the BMP)."""
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            units += [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
        else:
            units.append(code)
    return units


RFC_SORTING_INPUT = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC_SORTED_VALUES = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]


def test_rfc_section_3_2_3_sorting_example() -> None:
    members = json.loads(canonical_bytes(RFC_SORTING_INPUT), object_pairs_hook=list)
    assert [value for _, value in members] == RFC_SORTED_VALUES
    by_units = sorted(RFC_SORTING_INPUT, key=_utf16_units)
    assert [name for name, _ in members] == by_units
    assert by_units != sorted(RFC_SORTING_INPUT)  # code point order would put the emoji last


def test_members_are_sorted_recursively_and_arrays_keep_their_order() -> None:
    value = {"b": [3, 1, {"z": 1, "a": 2}], "a": {"y": None, "x": True}, "": 0}
    assert canonical_text(value) == '{"":0,"a":{"x":true,"y":null},"b":[3,1,{"a":2,"z":1}]}'


def test_tuples_are_arrays() -> None:
    assert canonical_text((1, "a", (None,))) == '[1,"a",[null]]'


# --- refusals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        _double("7fffffffffffffff"),
        2**53 + 1,
        -(2**53) - 1,
        2**64,
        10**400,
        "\ud800",
        "a\udfffb",
        {"\ud83d": 1},
        {1: "a"},
        {None: 1},
        {True: 1},
        {(1, 2): 1},
        b"bytes",
        bytearray(b"x"),
        {1, 2},
        frozenset(),
        Decimal("1.5"),
        1j,
        object(),
        [1, [2, {"deep": float("nan")}]],
        {"k": {"k": [b"x"]}},
    ],
    ids=repr,
)
def test_values_without_a_canonical_form_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'[{"b":{"x":1,"x":1}}]',
        b"NaN",
        b"[Infinity]",
        b'{"a":-Infinity}',
        b'"\xff"',
        b"\xc3\x28",
        b'"\xed\xa0\x80"',  # a UTF-8-encoded surrogate is not UTF-8
        "\ufeff{}".encode(),
        b"",
        b'{"a":1',
        b"{} x",
        b"[1,]",
        b"'a'",
        b"[" * 100_000,
    ],
    ids=repr,
)
def test_loads_refuses_non_json_duplicates_and_non_numbers(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError):
        loads(data)


def test_loads_accepts_text_and_bytes() -> None:
    assert loads('{"a":[1,2.5,"é"]}') == {"a": [1, 2.5, "é"]}
    assert loads('{"a":[1,2.5,"é"]}'.encode()) == {"a": [1, 2.5, "é"]}


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',
        b'{"b":1,"a":2}',
        b"1.0",
        b"1E3",
        b"-0",
        b'"\\u0041"',
        b'"\\/"',
        b'"\\u00e9"',
        b'"\\u001F"',
        b"9007199254740993",
        b"1e400",
        b'{"a":1,"a":1}',
        b" 1",
        b"1\n",
        b'"\xff"',
    ],
    ids=repr,
)
def test_is_canonical_rejects_other_encodings(data: bytes) -> None:
    assert is_canonical(data) is False


def test_is_canonical_accepts_canonical_bytes() -> None:
    assert is_canonical(b'{"a":[1,1.5,"\\u001f\xc3\xa9"],"b":null}') is True


# --- properties --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=25,
)


def _reordered(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's members inserted in a shuffled order."""
    if isinstance(value, dict):
        names = list(value)
        rng.shuffle(names)
        return {name: _reordered(value[name], rng) for name in names}
    if isinstance(value, list):
        return [_reordered(element, rng) for element in value]
    return value


def _numbers_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _numbers_as_floats(member) for name, member in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(element) for element in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@PROPERTY
@given(value=json_values, rng=st.randoms(use_true_random=False))
def test_member_insertion_order_does_not_matter(value: Any, rng: random.Random) -> None:
    assert canonical_bytes(_reordered(value, rng)) == canonical_bytes(value)


@PROPERTY
@given(value=json_values)
def test_canonical_form_is_a_fixed_point_and_recognised(value: Any) -> None:
    data = canonical_bytes(value)
    assert canonical_bytes(loads(data)) == data
    assert is_canonical(data)
    assert canonical_text(value).encode("utf-8") == data


@PROPERTY
@given(value=json_values)
def test_canonical_form_is_plain_json_for_the_same_value(value: Any) -> None:
    parsed = json.loads(canonical_bytes(value), parse_int=float)
    assert parsed == _numbers_as_floats(value)


@PROPERTY
@given(names=st.lists(st.text(max_size=4), max_size=12, unique=True))
def test_member_names_are_ordered_by_utf16_code_units(names: list[str]) -> None:
    members = json.loads(canonical_bytes(dict.fromkeys(names, 0)), object_pairs_hook=list)
    assert [name for name, _ in members] == sorted(names, key=_utf16_units)


@PROPERTY
@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_and_use_ecmascript_notation(number: float) -> None:
    text = canonical_text(number)
    assert float(text) == number
    magnitude = abs(number)
    uses_exponent = magnitude >= 1e21 or 0 < magnitude < 1e-6
    assert ("e" in text) == uses_exponent
    assert not text.endswith(".0")
    assert "E" not in text
    assert "+" not in text or "e+" in text
    digits = text.lstrip("-").split("e")[0].replace(".", "").strip("0")
    assert len(digits) <= len(repr(magnitude).split("e")[0].replace(".", "").strip("0"))
