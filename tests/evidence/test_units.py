"""Unit conversion for limits: exact decimal shifts, alias spellings, refusals, and round-trip properties."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import InputError
from evidence.units import UnitError, canonical_unit, convert, display_unit, format_amount, format_number

PROPERTY = settings(deadline=None, max_examples=300)
AIR = ("ng/m3", "ug/m3", "mg/m3")
WATER = ("ng/L", "ug/L", "mg/L")

# Decimal values with at most 15 significant digits: what instruments send (HJ 212 N5.2, N3.1, ...).
decimals = st.builds(
    lambda digits, exponent: float(Decimal(digits).scaleb(exponent)),
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.integers(min_value=-20, max_value=8),
)
same_dimension = st.sampled_from([AIR, WATER]).flatmap(lambda units: st.tuples(*[st.sampled_from(units)] * 2))


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (0.5, "mg/m3", "ug/m3", 500.0),
        (1.0, "mg/m³", "µg/m³", 1000.0),
        (12500.0, "ug/m3", "mg/m3", 12.5),
        (1.1, "mg/m3", "ug/m3", 1100.0),  # 1.1 * 1000 is 1100.0000000000002 in plain float arithmetic
        (0.0203, "mg/m3", "ug/m3", 20.3),  # 0.0203 * 1000 is 20.299999999999997
        (3.0, "ng/m3", "ug/m3", 0.003),
        (2.5, "纳克/立方米", "ug/m3", 0.0025),
        (80.0, "ug/L", "mg/L", 0.08),
        (0.1, "µg/L", "mg/L", 0.0001),
        (0.05, "毫克/升", "微克/升", 50.0),
        (500.0, "ng/L", "ug/L", 0.5),
    ],
)
def test_conversions_are_exact(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target) == expected


@pytest.mark.parametrize(
    ("unit", "alias"),
    [("dB(A)", "dBA"), ("pH", "无量纲"), ("Bq/L", "贝可[勒尔]/升"), ("count/L", "个/升"), ("mg/L", "mg/l")],
)
def test_identical_units_pass_unchanged(unit: str, alias: str) -> None:
    assert convert(63.5, alias, unit) == 63.5
    assert convert(7.25, unit, unit) == 7.25


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("mg/m3", "mg/L"),  # air unit on a water channel: a configuration error, not a conversion
        ("ug/L", "ug/m3"),
        ("ppm", "mg/m3"),  # volume ratio: needs molar mass and reference state, never guessed
        ("mg/m3", "ppb"),
        ("dB(A)", "mg/L"),
        ("pH", "mg/L"),
        ("", "mg/L"),
        ("mg/L", "   "),
        ("%", "mg/m3"),
    ],
)
def test_refusals(source: str, target: str) -> None:
    with pytest.raises(UnitError):
        convert(1.0, source, target)


def test_unit_error_is_an_input_error() -> None:
    assert issubclass(UnitError, InputError)


def test_canonical_spellings() -> None:
    assert canonical_unit("微克/立方米") == "ug/m3"
    assert canonical_unit(" µg/m³ ") == "ug/m3"
    assert canonical_unit("个/L") == "count/L"
    assert canonical_unit("贝可/升") == "Bq/L"
    assert canonical_unit("纳克/升") == "ng/L"
    assert canonical_unit(None) is None
    assert canonical_unit("  ") is None
    assert canonical_unit("furlongs") == "furlongs"


def test_display() -> None:
    assert display_unit("ug/m3") == "µg/m³"
    assert display_unit("count/L", "en") == "counts/L"
    assert format_number(0.00005) == "0.00005"
    assert format_number(120.0) == "120"
    assert format_number(1.25) == "1.25"
    assert format_number(-0.0) == "0"
    assert format_number(math.inf) == "∞"
    assert format_amount(9.5, "pH") == "9.5"
    assert format_amount(75.0, "ug/m3") == "75 µg/m³"


@PROPERTY
@given(value=decimals, units=same_dimension)
def test_round_trip_is_exact_for_decimal_values(value: float, units: tuple[str, str]) -> None:
    source, target = units
    assert convert(convert(value, source, target), target, source) == value


@PROPERTY
@given(value=decimals, units=same_dimension)
def test_conversion_equals_the_decimal_shift(value: float, units: tuple[str, str]) -> None:
    source, target = units
    exponent = {"ng": -9, "ug": -6, "mg": -3}
    shift = exponent[source[:2]] - exponent[target[:2]]
    assert convert(value, source, target) == float(Decimal(repr(value)).scaleb(shift))


@PROPERTY
@given(
    value=st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or 1e-280 < abs(x) < 1e280),
    units=same_dimension,
)
def test_round_trip_is_close_for_any_float(value: float, units: tuple[str, str]) -> None:
    source, target = units
    assert math.isclose(convert(convert(value, source, target), target, source), value, rel_tol=1e-15)


@PROPERTY
@given(value=decimals)
def test_chained_conversions_agree(value: float) -> None:
    assert convert(convert(value, "ng/m3", "ug/m3"), "ug/m3", "mg/m3") == convert(value, "ng/m3", "mg/m3")
