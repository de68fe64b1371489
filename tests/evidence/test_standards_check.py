"""National limits: the early-warning comparison rules, and the messages and JSON of an exceedance."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.canonical import canonical_bytes
from evidence.readings import DATA_FLAGS, Reading
from evidence.standards import AVERAGING, REASONS, Comparison, Exceedance, check, explain, noise_period

AIR, WATER, NOISE, WASTE = "GB 3095-2012", "GB 3838-2002", "GB 3096-2008", "GB 8978-1996"


def only(items: list[Comparison]) -> Comparison:
    assert len(items) == 1, items
    return items[0]


def reading(code: str, value: float | None, unit: str | None, flag: str | None = "N", kind: str = "Rtd") -> Reading:
    return Reading(code, kind, value, flag, unit=unit)


# --- comparisons --------------------------------------------------------------------------------------------------


def test_pm25_example_message() -> None:
    exceedance = only_exceedance(reading("a34004", 120.0, "µg/m³"), standard=AIR, grade="II")
    assert exceedance.value == 120.0
    assert exceedance.ratio == 1.6
    assert exceedance.indicative
    assert exceedance.message_zh() == (
        "细颗粒物（PM2.5） 实测 120 µg/m³，超过 GB 3095-2012 二级 24小时平均 限值 75 µg/m³（1.6 倍）"
        "；单次读数仅供参考，不构成法律认定"
    )
    english = exceedance.message_en()
    for part in ("PM2.5", "120 µg/m³", "GB 3095-2012", "Grade II", "24-hour mean", "75 µg/m³", "1.6", "indicative"):
        assert part in english


def only_exceedance(item: Reading, **where: str) -> Exceedance:
    found = check(item, **where)
    assert len(found) == 1, found
    return found[0]


def test_co_limit_in_mg_against_a_reading_in_ug() -> None:
    exceedance = only_exceedance(reading("a21005", 12500.0, "ug/m3"), standard=AIR, grade="II")
    assert (exceedance.limit.unit, exceedance.limit.averaging, exceedance.value) == ("mg/m3", "1h", 12.5)
    assert exceedance.ratio == 1.25
    assert "12500 µg/m³（折合 12.5 mg/m³）" in exceedance.message_zh()
    assert "10 mg/m³" in exceedance.message_zh()
    assert check(reading("a21005", 10000.0, "ug/m3"), standard=AIR, grade="II") == []  # exactly at the limit
    assert check(reading("a21005", 9.9, "mg/m3"), standard=AIR, grade="I") == []


def test_so2_in_hj212_default_mg_units() -> None:
    exceedance = only_exceedance(reading("a21026", 0.6, "mg/m3"), standard=AIR, grade="II")
    assert (exceedance.value, exceedance.limit.value, exceedance.ratio) == (600.0, 500.0, 1.2)
    assert check(reading("a21026", 0.5, "毫克/立方米"), standard=AIR, grade="II") == []


def test_dissolved_oxygen_is_a_lower_bound() -> None:
    low = only_exceedance(reading("w01009", 4.0, "mg/L"), standard=WATER, grade="III")
    assert (low.limit.bound, low.ratio, low.margin) == ("min", 1.25, 1.0)
    assert "低于" in low.message_zh()
    assert "下限 5 mg/L" in low.message_zh()
    assert "below" in low.message_en()
    for fine in (5.0, 6.0, 12.0):
        assert only(explain(reading("w01009", fine, "mg/L"), standard=WATER, grade="III")).status == "within"
    zero = only_exceedance(reading("w01009", 0.0, "mg/L"), standard=WATER, grade="III")
    assert zero.ratio == float("inf")
    assert zero.to_json()["ratio"] is None
    canonical_bytes(zero.to_json())  # JSON-ready: no infinity


@pytest.mark.parametrize("standard", [WATER, WASTE])
def test_ph_is_a_range_on_both_sides(standard: str) -> None:
    high = only_exceedance(reading("w01001", 9.5, "pH"), standard=standard, grade="III")
    low = only_exceedance(reading("w01001", 5.0, "无量纲"), standard=standard, grade="III")
    assert high.ratio == pytest.approx(1 + 0.5 / 3)
    assert high.margin == 0.5
    assert low.ratio == pytest.approx(1 + 1 / 3)
    assert low.margin == 1.0
    assert "高于上限 0.5" in high.message_zh()
    assert "低于下限 1" in low.message_zh()
    assert "6–9" in low.message_zh()
    for fine in (6.0, 7.2, 9.0):
        comparison = only(explain(reading("w01001", fine, "pH"), standard=standard, grade="III"))
        assert (comparison.status, comparison.ratio) == ("within", None)


def test_ratios() -> None:
    cod = only(explain(reading("w01018", 30.0, "mg/L"), standard=WATER, grade="III"))
    assert (cod.status, cod.ratio) == ("exceeds", 1.5)
    within = only(explain(reading("w01018", 10.0, "mg/L"), standard=WATER, grade="III"))
    assert (within.status, within.ratio) == ("within", 0.5)
    mercury = only_exceedance(reading("w20111", 0.3, "ug/L"), standard=WATER, grade="III")  # HJ 212: µg/L
    assert mercury.value == 0.0003
    assert mercury.ratio == pytest.approx(3.0)


@pytest.mark.parametrize("flag", [*sorted(set(DATA_FLAGS) - {"N"}), None, "n", "X"])
def test_flags_other_than_n_are_never_compared(flag: str | None) -> None:
    item = reading("a34004", 9999.0, "ug/m3", flag=flag)
    assert check(item, standard=AIR, grade="I") == []
    comparison = only(explain(item, standard=AIR, grade="I"))
    assert (comparison.status, comparison.reason) == ("not-compared", "flag-not-valid")
    assert comparison.limit is not None
    assert comparison.limit.averaging == "24h"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (reading("a34004", 500.0, None), "no-unit"),
        (reading("a34004", 500.0, "  "), "no-unit"),
        (reading("a21026", 5.0, "ppm"), "unit-not-convertible"),
        (reading("w01018", 500.0, "mg/m3"), "unit-not-convertible"),
        (reading("a34004", None, "ug/m3"), "value-missing"),
        (reading("a34004", float("nan"), "ug/m3"), "value-not-finite"),
        (reading("a34004", 500.0, "ug/m3", kind="Cou"), "kind-not-comparable"),
        (reading("a01001", 45.0, "°C"), "no-limit"),
    ],
)
def test_explain_reasons(item: Reading, reason: str) -> None:
    standard = WATER if item.code.startswith("w") else AIR
    comparison = only(explain(item, standard=standard, grade="II"))
    assert (comparison.status, comparison.reason, comparison.exceedance) == ("not-compared", reason, None)
    assert comparison.detail
    assert reason in REASONS
    assert check(item, standard=standard, grade="II") == []
    canonical_bytes(comparison.to_json())


def test_default_period_is_the_shortest_and_all_compares_every_period() -> None:
    shortest = {"a21026": "1h", "a05024": "1h", "a34004": "24h", "a20044": "quarter", "a25044": "24h"}
    for code, period in shortest.items():
        chosen = only(explain(reading(code, 0.0001, "ug/m3"), standard=AIR, grade="II")).limit
        assert chosen is not None
        assert chosen.averaging == period
    every = explain(reading("a21026", 170.0, "ug/m3"), standard=AIR, grade="II", averaging="all")
    assert [(c.limit.averaging, c.status) for c in every if c.limit] == [
        ("annual", "exceeds"),
        ("24h", "exceeds"),
        ("1h", "within"),
    ]
    daily = only_exceedance(reading("a21026", 170.0, "ug/m3", kind="Avg"), standard=AIR, grade="II", averaging="24h")
    assert "24小时平均" in daily.message_zh()
    assert "24-hour mean" in daily.message_en()


def test_noise_needs_a_period_unless_code_or_kind_names_it() -> None:
    item = reading("Leq", 58.0, "dB(A)")
    pending = explain(item, standard=NOISE, grade="2")
    assert {(c.limit.averaging, c.reason) for c in pending if c.limit} == {
        ("day", "period-required"),
        ("night", "period-required"),
    }
    assert check(item, standard=NOISE, grade="2", averaging="day") == []
    night = only_exceedance(item, standard=NOISE, grade="2", averaging=noise_period(time(23, 30)))
    assert night.margin == 8.0
    assert "夜间" in night.message_zh()
    assert "night-time" in night.message_en()
    assert "超出 8 dB(A)" in night.message_zh()
    assert only_exceedance(reading("Ln", 51.0, "dBA"), standard=NOISE, grade="2").limit.averaging == "night"
    assert only_exceedance(reading("Leq", 61.0, "分贝", kind="DayData"), standard=NOISE, grade="2").limit.value == 60
    assert len(check(reading("LMx", 66.0, "dB(A)", kind="NightData"), standard=NOISE, grade="2")) == 1
    assert only(explain(reading("LMx", 66.0, "dB(A)", kind="DayData"), standard=NOISE, grade="2")).reason == "no-limit"


def test_noise_period_boundaries() -> None:
    assert [noise_period(time(h, m)) for h, m in [(6, 0), (21, 59), (22, 0), (5, 59), (0, 0)]] == [
        "day",
        "day",
        "night",
        "night",
        "night",
    ]


def test_messages_name_standard_grade_period_limit_value_and_caveat() -> None:
    cases = [
        (reading("w21003", 2.5, "mg/L"), WATER, "IV", ("GB 3838-2002", "Ⅳ类", "单次监测", "1.5 mg/L", "2.5 mg/L")),
        (reading("w21011", 0.08, "mg/L"), WATER, "III-lake", ("Ⅲ类（湖、库）", "0.05 mg/L", "0.08 mg/L")),
        (reading("w02003", 50000.0, "个/升"), WATER, "V", ("40000 个/L", "50000 个/L")),
        (reading("Leq", 62.0, "dB(A)"), NOISE, "1", ("GB 3096-2008", "1类", "55 dB(A)", "62 dB(A)")),
    ]
    for item, standard, grade, parts in cases:
        averaging = "day" if standard == NOISE else None
        exceedance = only_exceedance(
            item, standard=standard, grade=grade, **({"averaging": averaging} if averaging else {})
        )
        zh, en = exceedance.message_zh(), exceedance.message_en()
        assert all(part in zh for part in parts), zh
        assert "仅供参考" in zh
        assert "不构成法律认定" in zh
        assert "indicative" in en
        assert "not a legal determination" in en
        assert exceedance.limit.standard in en
        assert AVERAGING[exceedance.limit.averaging][1] in en
        assert "[memory]" not in zh + en


def test_unverified_limits_say_so_in_both_languages() -> None:
    exceedance = only_exceedance(reading("w20111", 80.0, "ug/L"), standard=WASTE, grade="I")
    assert not exceedance.limit.verified
    assert "未经核实" in exceedance.message_zh()
    assert "unverified" in exceedance.message_en()
    assert "80 µg/L (= 0.08 mg/L)" in exceedance.message_en()
    assert "Grade I" in exceedance.message_en()


def test_exceedance_json_is_canonical_ready_and_complete() -> None:
    exceedance = only_exceedance(reading("a34004", 120.0, "ug/m3"), standard=AIR, grade="II")
    data = exceedance.to_json()
    assert data["indicative"] is True
    assert data["limit"]["source"]
    assert data["limit"]["verified"] is True
    assert (data["value"], data["ratio"], data["limit"]["averaging"], data["limit"]["grade"]) == (
        120.0,
        1.6,
        "24h",
        "II",
    )
    assert data["message_zh"] == exceedance.message_zh()
    canonical_bytes(data)


@settings(deadline=None, max_examples=200)
@given(
    digits=st.integers(min_value=0, max_value=10**9),
    exponent=st.integers(min_value=-6, max_value=3),
    code=st.sampled_from(["a21026", "a21005", "a34004", "a05024", "a21002"]),
)
def test_status_does_not_depend_on_the_unit(digits: int, exponent: int, code: str) -> None:
    micrograms = float(Decimal(digits).scaleb(exponent))
    milligrams = float(Decimal(digits).scaleb(exponent - 3))
    in_ug = explain(reading(code, micrograms, "ug/m3"), standard=AIR, grade="II", averaging="all")
    in_mg = explain(reading(code, milligrams, "mg/m3"), standard=AIR, grade="II", averaging="all")
    assert [(c.status, c.value) for c in in_ug] == [(c.status, c.value) for c in in_mg]
    for comparison in in_ug:
        assert comparison.limit is not None
        assert comparison.value is not None
        assert comparison.limit.value is not None
        assert (comparison.status == "exceeds") == (comparison.value > comparison.limit.value)
