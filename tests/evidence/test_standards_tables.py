"""National limits: the tables against the reference values, and the lookup of standards, grades and periods."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evidence.readings import Reading
from evidence.standards import (
    AVERAGING,
    STANDARDS,
    Comparison,
    Limit,
    LimitTableError,
    UnknownStandardError,
    _check_unique,
    _parse_cell,
    check,
    default_standard,
    explain,
    limits,
)
from evidence.units import canonical_unit

AIR, WATER, NOISE, WASTE = "GB 3095-2012", "GB 3838-2002", "GB 3096-2008", "GB 8978-1996"

# Hard-coded from ../shared/reference/national-limits.md, independently of evidence/data/*.csv:
# (standard, grade, code, averaging) -> value (or (low, high) for a range), unit, verified.
EXPECTED: dict[tuple[str, str, str, str], tuple[float | tuple[float, float], str, bool]] = {
    (AIR, "I", "a21026", "1h"): (150, "ug/m3", True),
    (AIR, "II", "a21026", "1h"): (500, "ug/m3", True),
    (AIR, "II", "a21026", "24h"): (150, "ug/m3", True),
    (AIR, "I", "a21026", "annual"): (20, "ug/m3", True),
    (AIR, "II", "a21004", "1h"): (200, "ug/m3", True),
    (AIR, "I", "a21004", "24h"): (80, "ug/m3", True),
    (AIR, "II", "a21005", "1h"): (10, "mg/m3", True),
    (AIR, "I", "a21005", "24h"): (4, "mg/m3", True),
    (AIR, "I", "a05024", "8h-max"): (100, "ug/m3", True),
    (AIR, "II", "a05024", "8h-max"): (160, "ug/m3", True),
    (AIR, "II", "a05024", "1h"): (200, "ug/m3", True),
    (AIR, "I", "a34002", "24h"): (50, "ug/m3", True),
    (AIR, "II", "a34002", "annual"): (70, "ug/m3", True),
    (AIR, "I", "a34004", "24h"): (35, "ug/m3", True),
    (AIR, "II", "a34004", "24h"): (75, "ug/m3", True),
    (AIR, "II", "a34004", "annual"): (35, "ug/m3", True),
    (AIR, "II", "a34001", "24h"): (300, "ug/m3", True),
    (AIR, "I", "a21002", "1h"): (250, "ug/m3", True),
    (AIR, "II", "a20044", "quarter"): (1, "ug/m3", True),
    (AIR, "I", "a25044", "24h"): (0.0025, "ug/m3", True),
    (WATER, "I", "w01001", "spot"): ((6, 9), "pH", True),
    (WATER, "V", "w01001", "spot"): ((6, 9), "pH", True),
    (WATER, "I", "w01009", "spot"): (7.5, "mg/L", True),
    (WATER, "III", "w01009", "spot"): (5, "mg/L", True),
    (WATER, "V", "w01009", "spot"): (2, "mg/L", True),
    (WATER, "II", "w01019", "spot"): (4, "mg/L", True),
    (WATER, "III", "w01018", "spot"): (20, "mg/L", True),
    (WATER, "IV", "w01018", "spot"): (30, "mg/L", True),
    (WATER, "IV", "w01017", "spot"): (6, "mg/L", True),
    (WATER, "I", "w21003", "spot"): (0.15, "mg/L", True),
    (WATER, "III", "w21003", "spot"): (1.0, "mg/L", True),
    (WATER, "III", "w21011", "spot"): (0.2, "mg/L", True),
    (WATER, "II-lake", "w21011", "spot"): (0.025, "mg/L", True),
    (WATER, "III-lake", "w21011", "spot"): (0.05, "mg/L", True),
    (WATER, "III-lake", "w21001", "spot"): (1.0, "mg/L", True),
    (WATER, "III-lake", "w01018", "spot"): (20, "mg/L", True),  # inherited from class III
    (WATER, "I", "w20138", "spot"): (0.01, "mg/L", True),
    (WATER, "IV", "w20123", "spot"): (2.0, "mg/L", True),
    (WATER, "III", "w20111", "spot"): (0.0001, "mg/L", True),
    (WATER, "II", "w20143", "spot"): (0.005, "mg/L", True),
    (WATER, "V", "w20117", "spot"): (0.1, "mg/L", True),
    (WATER, "III", "w20144", "spot"): (0.05, "mg/L", True),
    (WATER, "I", "w21016", "spot"): (0.005, "mg/L", True),
    (WATER, "V", "w23002", "spot"): (0.1, "mg/L", True),
    (WATER, "IV", "w22001", "spot"): (0.5, "mg/L", True),
    (WATER, "III", "w21019", "spot"): (0.2, "mg/L", True),
    (WATER, "III", "w02003", "spot"): (10000, "count/L", True),
    (NOISE, "0", "Leq", "day"): (50, "dB(A)", True),
    (NOISE, "0", "Leq", "night"): (40, "dB(A)", True),
    (NOISE, "1", "Leq", "night"): (45, "dB(A)", True),
    (NOISE, "2", "Leq", "day"): (60, "dB(A)", True),
    (NOISE, "2", "Ln", "night"): (50, "dB(A)", True),
    (NOISE, "3", "Ld", "day"): (65, "dB(A)", True),
    (NOISE, "4a", "Leq", "day"): (70, "dB(A)", True),
    (NOISE, "4a", "Leq", "night"): (55, "dB(A)", False),
    (NOISE, "4b", "Leq", "night"): (60, "dB(A)", False),
    (NOISE, "2", "LMx", "night"): (65, "dB(A)", False),
    (WASTE, "I", "w01001", "spot"): ((6, 9), "pH", True),
    (WASTE, "I", "w01012", "spot"): (70, "mg/L", True),
    (WASTE, "III", "w01012", "spot"): (400, "mg/L", True),
    (WASTE, "II", "w01017", "spot"): (30, "mg/L", True),
    (WASTE, "I", "w01018", "spot"): (100, "mg/L", True),
    (WASTE, "III", "w01018", "spot"): (500, "mg/L", True),
    (WASTE, "II", "w21003", "spot"): (25, "mg/L", True),
    (WASTE, "III", "w23002", "spot"): (2.0, "mg/L", True),
    (WASTE, "I", "w20122", "spot"): (0.5, "mg/L", True),
    (WASTE, "II", "w20123", "spot"): (5.0, "mg/L", True),
    (WASTE, "I", "w20111", "spot"): (0.05, "mg/L", False),
    (WASTE, "III", "w20116", "spot"): (1.5, "mg/L", False),
    (WASTE, "II", "w25043", "spot"): (0.00003, "mg/L", False),
    (WASTE, "I", "w03001", "spot"): (1, "Bq/L", True),
    (WASTE, "II", "w03002", "spot"): (10, "Bq/L", True),
}


def all_limits() -> list[Limit]:
    return [limit for name, info in STANDARDS.items() for grade in info.grades for limit in limits(name, grade)]


def only(items: list[Comparison]) -> Comparison:
    assert len(items) == 1, items
    return items[0]


def reading(code: str, value: float | None, unit: str | None, flag: str | None = "N", kind: str = "Rtd") -> Reading:
    return Reading(code, kind, value, flag, unit=unit)


# --- the tables ---------------------------------------------------------------------------------------------------


def test_every_table_loads_with_titles_grades_and_periods() -> None:
    assert set(STANDARDS) == {AIR, WATER, NOISE, WASTE}
    assert STANDARDS[AIR].grades == ("I", "II")
    assert STANDARDS[WATER].grades[:5] == ("I", "II", "III", "IV", "V")
    assert STANDARDS[NOISE].grades == ("0", "1", "2", "3", "4a", "4b")
    assert STANDARDS[WASTE].grades == ("I", "II", "III")
    assert STANDARDS[AIR].title_zh == "环境空气质量标准"
    assert STANDARDS[NOISE].averaging == ("day", "night")
    assert {"1h", "24h", "8h-max", "annual"} <= set(STANDARDS[AIR].averaging)
    for name, info in STANDARDS.items():
        assert info.title_zh
        assert info.title_en
        for grade in info.grades:
            assert limits(name, grade), (name, grade)


def test_no_duplicate_limits() -> None:
    keys = [(x.standard, x.grade, x.code, x.averaging) for x in all_limits()]
    assert len(keys) == len(set(keys))


def test_a_duplicate_row_is_refused() -> None:
    limit = limits(AIR, "II", code="a34004", averaging="24h")[0]
    with pytest.raises(LimitTableError):
        _check_unique("x.csv", [limit, limit])


def test_cells_parse_and_tags_mark_unverified() -> None:
    assert _parse_cell("150", "max") == (150.0, None, None, True)
    assert _parse_cell("6-9", "range") == (None, 6.0, 9.0, True)
    assert _parse_cell("55 [memory]", "max") == (55.0, None, None, False)
    assert _parse_cell("0.05 [memory, verify]", "max") == (0.05, None, None, False)
    with pytest.raises(ValueError, match="unreadable"):
        _parse_cell("fifty five", "max")


def test_every_limit_is_well_formed() -> None:
    for limit in all_limits():
        assert limit.unit == canonical_unit(limit.unit)
        assert limit.averaging in AVERAGING
        assert limit.source
        assert limit.pollutant_zh
        assert limit.pollutant_en
        if limit.bound == "range":
            assert limit.value is None
            assert limit.low is not None
            assert limit.high is not None
            assert limit.low < limit.high
        else:
            assert limit.bound in ("max", "min")
            assert limit.value is not None
            assert limit.value > 0


@pytest.mark.parametrize(("key", "expected"), list(EXPECTED.items()), ids=str)
def test_values_match_the_reference(
    key: tuple[str, str, str, str], expected: tuple[float | tuple[float, float], str, bool]
) -> None:
    standard, grade, code, averaging = key
    value, unit, verified = expected
    limit = limits(standard, grade, averaging=averaging, code=code)
    assert len(limit) == 1
    found = limit[0]
    if isinstance(value, tuple):
        assert (found.bound, found.low, found.high) == ("range", *value)
    else:
        assert found.value == value
    assert (found.unit, found.verified) == (unit, verified)


def test_codes_are_hj212_codes(shared_dir: Path) -> None:
    text = (shared_dir / "reference" / "HJ212-2017.txt").read_text(encoding="utf-8")
    start = text.index("表 B.1 水监测因子编码表")
    end = text.index("表 B.4", start)
    known = set(re.findall(r"\b([aw]\d{5}|L[A-Za-z0-9]{1,2})\b", text[start:end]))
    unknown = {limit.code for limit in all_limits()} - known
    assert unknown == {"a05024"}  # O3: not in table B.2; the code platforms use (documented in the note)


def test_memory_values_are_unverified_and_checked_ones_verified() -> None:
    by_standard = {name: [x for x in all_limits() if x.standard == name] for name in STANDARDS}
    assert all(x.verified for x in by_standard[AIR] + by_standard[WATER])
    noise_unverified = {(x.grade, x.code, x.averaging) for x in by_standard[NOISE] if not x.verified}
    assert ("4a", "Leq", "night") in noise_unverified
    assert ("4b", "Ln", "night") in noise_unverified
    assert ("3", "Leq", "night") not in noise_unverified
    assert ("4a", "Leq", "day") not in noise_unverified
    assert all(not x.verified for x in by_standard[NOISE] if x.code == "LMx")
    class_one = {"w20111", "w20115", "w20116", "w20117", "w20119", "w20120", "w20121", "w25043", "w20127", "w20126"}
    assert all(x.verified == (x.code not in class_one) for x in by_standard[WASTE])


def test_pm_has_no_one_hour_limit() -> None:
    for grade in ("I", "II"):
        assert not {x.code for x in limits(AIR, grade, averaging="1h")} & {"a34001", "a34002", "a34004"}
    comparison = only(explain(reading("a34004", 500.0, "ug/m3"), standard=AIR, grade="II", averaging="1h"))
    assert (comparison.status, comparison.reason, comparison.limit) == ("not-compared", "no-limit", None)
    assert "24h" in comparison.detail


def test_total_nitrogen_applies_to_lakes_only() -> None:
    assert limits(WATER, "III", code="w21001") == []
    assert only(explain(reading("w21001", 5.0, "mg/L"), standard=WATER, grade="III")).reason == "no-limit"
    assert len(check(reading("w21001", 5.0, "mg/L"), standard=WATER, grade="III-lake")) == 1


def test_names_and_grades_are_resolved_leniently_but_never_guessed() -> None:
    assert limits("GB3095-2012", "二级") == limits(AIR, "II") == limits("gb 3095", "2") == limits(AIR, "Ⅱ")
    assert limits("GB 3095\u20112012", "grade ii") == limits(AIR, "II")
    assert limits(WATER, "Ⅲ类") == limits(WATER, "III")
    assert limits(WATER, "iii-LAKE") == limits(WATER, "III-lake")
    assert limits(NOISE, "4A") == limits(NOISE, "4a类")
    assert limits(NOISE, "2")[0].grade == "2"
    for bad in [("GB 9999-2000", "I"), (AIR, "III"), (NOISE, "II"), (NOISE, "5")]:
        with pytest.raises(UnknownStandardError):
            limits(*bad)
    with pytest.raises(UnknownStandardError):
        limits(AIR, "II", averaging="2h")


def test_default_standard_by_domain() -> None:
    assert default_standard("a34004") == (AIR, "II")
    assert default_standard("a21005") == (AIR, "II")
    assert default_standard("w01018") == (WATER, "III")
    assert default_standard("w01009") == (WATER, "III")
    assert default_standard("Leq") == (NOISE, "2")
    assert default_standard("w21001") is None  # total nitrogen: lakes only, the site decides
    assert default_standard("w01012") is None  # suspended solids: wastewater only, the case decides
    assert default_standard("a01001") is None
