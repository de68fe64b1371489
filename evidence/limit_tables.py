"""The national limit tables, loaded from data, and the lenient lookup of standards, grades and averaging periods.

The limit values live in ``evidence/data/limits-*.csv``, one file per standard, laid out like the standard's own
table: ``# key: value`` lines name the standard, its titles, domain and default grade; then one row per pollutant
and averaging period, one column per class/grade, with the row's source (the page the value was read from) and a
note. A value followed by a bracketed tag (``55 [memory]``, the reference's notation) is loaded with
``verified=False`` and every message about it says so. A row with a ``variant`` (GB 3838's ``lake``) defines grades
``I-lake`` … ``V-lake``, which take every limit of their base grade and replace or add their own (lake/reservoir
total phosphorus; total nitrogen, which applies to lakes and reservoirs only).

Names are resolved leniently but never guessed: ``GB3095-2012``, ``gb 3095`` and ``GB 3095‑2012`` name the same
standard; ``二级``, ``2``, ``Ⅱ`` and ``grade ii`` the same grade; ``Ⅲ类`` and ``iii-LAKE`` are GB 3838 classes.
Anything the tables do not define raises ``UnknownStandardError``; a malformed table raises ``LimitTableError``.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from importlib import resources
from types import MappingProxyType
from typing import Any

from evidence.errors import LimitTableError, UnknownStandardError
from evidence.units import canonical_unit, format_amount, format_number

__all__ = [
    "ALL", "AVERAGING", "STANDARDS", "Limit", "Standard", "default_standard", "limits", "resolve", "table",
]  # fmt: skip

# Averaging periods, shortest first (day and night are periods of the day, not lengths): Chinese, English labels.
AVERAGING: Mapping[str, tuple[str, str]] = MappingProxyType({
    "spot": ("单次监测", "single-measurement"), "1h": ("1小时平均", "1-hour mean"),
    "8h-max": ("日最大8小时平均", "daily maximum 8-hour mean"), "24h": ("24小时平均", "24-hour mean"),
    "quarter": ("季平均", "quarterly mean"), "annual": ("年平均", "annual mean"),
    "day": ("昼间", "daytime"), "night": ("夜间", "night-time"),
})  # fmt: skip
ALL = "all"


@dataclass(frozen=True)
class Limit:
    """One limit value of one standard, for one grade, pollutant code and averaging period."""

    standard: str
    grade: str
    code: str
    pollutant_zh: str
    pollutant_en: str
    averaging: str
    bound: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    source: str
    verified: bool
    note: str

    def describe(self, language: str = "en") -> str:
        """The bound as text in the limit's unit: ``75 µg/m³``, ``6–9``."""
        if self.bound == "range":
            return f"{format_number(self.low)}–{format_number(self.high)}"
        return format_amount(self.value, self.unit, language)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Standard:
    """A standard the tables cover: titles, domain, grades, averaging periods and the default grade (or None)."""

    name: str
    title_zh: str
    title_en: str
    domain: str
    grades: tuple[str, ...]
    averaging: tuple[str, ...]
    default_grade: str | None
    grade_style: str  # "grade" (一级, Grade I) or "class" (Ⅲ类, Class III; 2类, Class 2)

    def grade_label(self, grade: str, language: str = "en") -> str:
        """The grade as the standard writes it: ``二级``, ``Grade II``, ``Ⅲ类（湖、库）``, ``Class 4a``."""
        base, _, variant = grade.partition("-")
        if language == "zh":
            numerals = _CHINESE_NUMERALS if self.grade_style == "grade" else _ROMAN_NUMERALS
            suffix = "级" if self.grade_style == "grade" else "类"
            return numerals.get(base, base) + suffix + ("（湖、库）" if variant == "lake" else "")
        word = "Grade" if self.grade_style == "grade" else "Class"
        return f"{word} {base}" + (" (lake/reservoir)" if variant == "lake" else "")


_CHINESE_NUMERALS = {"I": "一", "II": "二", "III": "三", "IV": "四", "V": "五"}
_ROMAN_NUMERALS = {"I": "Ⅰ", "II": "Ⅱ", "III": "Ⅲ", "IV": "Ⅳ", "V": "Ⅴ"}
_GRADE_ALIASES = {
    alias: roman
    for roman, aliases in {"I": "1一Ⅰ", "II": "2二Ⅱ", "III": "3三Ⅲ", "IV": "4四Ⅳ", "V": "5五Ⅴ"}.items()
    for alias in aliases
}
_FIXED_COLUMNS = ("codes", "pollutant_zh", "pollutant_en", "averaging", "bound", "unit", "variant", "source", "note")
_CELL = re.compile(r"([^\s\[]+)\s*(\[[^\]]*\])?")


def _load_table(resource: str) -> tuple[Standard, tuple[Limit, ...]]:
    lines = (resources.files("evidence") / "data" / resource).read_text(encoding="utf-8").splitlines()
    meta = {key.strip(): value.strip() for key, _, value in (x[1:].partition(":") for x in lines if x[:1] == "#")}
    reader = csv.DictReader(x for x in lines if x[:1] != "#")
    grades = [name for name in reader.fieldnames or () if name not in _FIXED_COLUMNS]
    try:
        rows = [limit for row in reader for limit in _row_limits(meta["standard"], grades, row)]
        table = _with_variants(rows)
        periods = tuple(period for period in AVERAGING if any(x.averaging == period for x in table))
        standard = Standard(
            meta["standard"], meta["title_zh"], meta["title_en"], meta["domain"],
            tuple(dict.fromkeys(x.grade for x in table)), periods, meta["default_grade"] or None, meta["grade_style"],
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise LimitTableError(f"{resource}: {exc!r}") from exc
    _check_unique(resource, table)
    return standard, tuple(table)


def _row_limits(standard: str, grades: list[str], row: dict[str, str]) -> Iterator[Limit]:
    averaging, bound, unit = row["averaging"].strip(), row["bound"].strip(), row["unit"].strip()
    if averaging not in AVERAGING or bound not in ("max", "min", "range") or canonical_unit(unit) != unit:
        raise ValueError(f"bad averaging, bound or unit in row {row['codes']!r}: {averaging!r} {bound!r} {unit!r}")
    variant = row["variant"].strip()
    for grade in grades:
        if not row[grade].strip():
            continue  # the standard defines no limit for this grade
        value, low, high, verified = _parse_cell(row[grade], bound)
        for code in row["codes"].split():
            yield Limit(
                standard, f"{grade}-{variant}" if variant else grade, code, row["pollutant_zh"].strip(),
                row["pollutant_en"].strip(), averaging, bound, value, low, high, unit, row["source"].strip(),
                verified, row["note"].strip(),
            )  # fmt: skip


def _parse_cell(cell: str, bound: str) -> tuple[float | None, float | None, float | None, bool]:
    """``"150"`` → 150; ``"6-9"`` → a range; any bracketed tag (``[memory]``) marks the value unverified."""
    match = _CELL.fullmatch(cell.strip())
    if match is None:
        raise ValueError(f"unreadable limit cell {cell!r}")
    number, tag = match.groups()
    if bound == "range":
        low, high = (float(part) for part in number.split("-"))
        return None, low, high, tag is None
    return float(number), None, None, tag is None


def _with_variants(limits: list[Limit]) -> list[Limit]:
    """Give each variant grade (``III-lake``) every limit of its base grade that it does not define itself."""
    extra: list[Limit] = []
    for variant in sorted({limit.grade for limit in limits if "-" in limit.grade}):
        own = {(x.code, x.averaging) for x in limits if x.grade == variant}
        base = variant.split("-")[0]
        extra += [replace(x, grade=variant) for x in limits if x.grade == base and (x.code, x.averaging) not in own]
    return limits + extra


def _check_unique(resource: str, table: list[Limit]) -> None:
    counts = Counter((x.standard, x.grade, x.code, x.averaging) for x in table)
    if duplicates := [key for key, count in counts.items() if count > 1]:
        raise LimitTableError(f"{resource}: duplicate limits {duplicates}")


def _load_all() -> list[tuple[Standard, tuple[Limit, ...]]]:
    folder = resources.files("evidence") / "data"
    names = sorted(x.name for x in folder.iterdir() if x.name.startswith("limits-") and x.name.endswith(".csv"))
    return [_load_table(name) for name in names]


_LOADED = _load_all()
_TABLES = {standard.name: table for standard, table in _LOADED}
STANDARDS: Mapping[str, Standard] = MappingProxyType({standard.name: standard for standard, _ in _LOADED})


def _standard(name: str) -> Standard:
    key = _name_key(name)
    for standard in STANDARDS.values():
        if key in (_name_key(standard.name), _name_key(standard.name).split("-")[0]):
            return standard
    raise UnknownStandardError(f"no limit table for standard {name!r}; known: {', '.join(STANDARDS)}")


def _name_key(name: str) -> str:
    return re.sub(r"[\u2010-\u2015\u2212]", "-", re.sub(r"\s+", "", name)).upper()


def _grade(standard: Standard, grade: str) -> str:
    key = re.sub(r"\s+|类|级|^(?:CLASS|GRADE)", "", grade.strip().upper())
    base, sep, variant = key.partition("-")
    known = {name.upper(): name for name in standard.grades}
    if base not in {name.split("-")[0] for name in known}:
        base = _GRADE_ALIASES.get(base, base)
    found = known.get(base + sep + variant)
    if found is None:
        raise UnknownStandardError(f"{standard.name} has no grade {grade!r}; grades: {', '.join(standard.grades)}")
    return found


def _period(averaging: str | None) -> str | None:
    if averaging is None:
        return None
    period = averaging.strip().lower()
    if period != ALL and period not in AVERAGING:
        raise UnknownStandardError(f"unknown averaging period {averaging!r}; known: {', '.join(AVERAGING)}, all")
    return period


def resolve(standard: str, grade: str, averaging: str | None = None) -> tuple[Standard, str, str | None]:
    """The standard, its name for the grade and the averaging period (None, "all" or a key of ``AVERAGING``)."""
    info = _standard(standard)
    return info, _grade(info, grade), _period(averaging)


def table(name: str) -> tuple[Limit, ...]:
    """Every limit of one standard, by its exact name (a key of ``STANDARDS``)."""
    return _TABLES[name]


def limits(standard: str, grade: str, *, averaging: str | None = None, code: str | None = None) -> list[Limit]:
    """The limits of one standard and grade, optionally of one averaging period (None or "all": every one)."""
    info, name, period = resolve(standard, grade, averaging)
    return [
        limit
        for limit in _TABLES[info.name]
        if limit.grade == name and period in (None, ALL, limit.averaging) and code in (None, limit.code)
    ]


def default_standard(code: str) -> tuple[str, str] | None:
    """A default (standard, grade) for a code when the case has chosen none: a convention, not a legal choice.

    Air codes: GB 3095-2012 Grade II (the class of residential, commercial and industrial areas); surface-water
    codes: GB 3838-2002 Class III (rivers); noise codes: GB 3096-2008 Class 2. None when the default grade defines
    no limit for the code: wastewater-only codes (GB 8978 needs the discharge route and yields to industry
    standards) and total nitrogen (lakes and reservoirs only: choose ``III-lake``).
    """
    for standard in STANDARDS.values():
        grade = standard.default_grade
        if grade is not None and any(x.code == code and x.grade == grade for x in _TABLES[standard.name]):
            return standard.name, grade
    return None
