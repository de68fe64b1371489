"""National limits as data, and the early-warning comparison of one reading against them.

The limit values live in ``evidence/data/limits-*.csv``, one file per standard, laid out like the standard's own
table: ``# key: value`` lines name the standard, its titles, domain and default grade; then one row per pollutant
and averaging period, one column per class/grade, with the row's source (the page the value was read from) and a
note. A value followed by a bracketed tag (``55 [memory]``, the reference's notation) is loaded with
``verified=False`` and every message about it says so. A row with a ``variant`` (GB 3838's ``lake``) defines grades
``I-lake`` … ``V-lake``, which take every limit of their base grade and replace or add their own (lake/reservoir
total phosphorus; total nitrogen, which applies to lakes and reservoirs only).

Comparison rules (see ``explain``):

* only a reading that is a finite number flagged ``N`` is compared (``Reading.comparable``); its unit comes from
  the device channel, never from the code; a missing or unconvertible unit means "not compared", never a guess;
* ``max`` limits are exceeded above the value, ``min`` limits (dissolved oxygen) below it, ``range`` limits (pH)
  outside ``[low, high]``; a value equal to a bound is within;
* ``averaging=None`` compares with the shortest averaging period the standard defines for the code (a spot or
  real-time value is closest to it); ``averaging="all"`` compares with every period; noise limits need the period
  (day or night) unless the code or kind names it (``Ld``, ``Ln``, ``…-DayData``, ``…-NightData``);
* the ratio is value/limit for ``max``, limit/value for ``min`` (infinite at or below zero) and, for a range,
  1 + distance outside the range / range width (pH 9.5 against 6-9 is 1.17).

Every exceedance is indicative: a spot reading is early warning, not a legal determination.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import time
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Any

from evidence.errors import InputError
from evidence.readings import DATA_FLAGS, VALID_FLAG, Reading
from evidence.units import UnitError, canonical_unit, convert, format_amount, format_number

__all__ = [
    "ALL", "AVERAGING", "COMPARABLE_KINDS", "REASONS", "STANDARDS", "Comparison", "Exceedance", "Limit",
    "LimitTableError", "Standard", "UnitError", "UnknownStandardError", "check", "convert", "default_standard",
    "explain", "limits", "noise_period",
]  # fmt: skip


class UnknownStandardError(InputError):
    """A standard, grade or averaging period the limit tables do not define."""


class LimitTableError(InputError):
    """A shipped limit table is malformed (a packaging error, caught by the tests)."""


# Averaging periods, shortest first (day and night are periods of the day, not lengths): Chinese, English labels.
AVERAGING: Mapping[str, tuple[str, str]] = MappingProxyType({
    "spot": ("单次监测", "single-measurement"), "1h": ("1小时平均", "1-hour mean"),
    "8h-max": ("日最大8小时平均", "daily maximum 8-hour mean"), "24h": ("24小时平均", "24-hour mean"),
    "quarter": ("季平均", "quarterly mean"), "annual": ("年平均", "annual mean"),
    "day": ("昼间", "daytime"), "night": ("夜间", "night-time"),
})  # fmt: skip
ALL = "all"
_DAY_NIGHT = frozenset({"day", "night"})
# The period a noise code or value kind names by itself (HJ 212-2017: Ld-DayData, Ln-NightData, LMx-NightData).
_IMPLIED_PERIOD = {"Ld": "day", "Ln": "night", "DayData": "day", "NightData": "night"}
# Value kinds that are concentrations or levels (not Cou totals, sample times or information fields).
COMPARABLE_KINDS = frozenset(
    {"Rtd", "Avg", "Min", "Max", "ZsRtd", "ZsAvg", "ZsMin", "ZsMax", "Data", "DayData", "NightData"}
)

REASONS: Mapping[str, str] = MappingProxyType({
    "flag-not-valid": "the data flag is not N (instrument working normally)",
    "value-missing": "the device sent no number",
    "value-not-finite": "the value is not a finite number",
    "kind-not-comparable": "the value kind is not a concentration or level",
    "no-unit": "the reading has no unit (units are never inferred from the code)",
    "unit-not-convertible": "the reading's unit cannot be converted to the limit's",
    "no-limit": "the standard and grade define no limit for this code and period",
    "period-required": "the limit depends on the period of the day: pass averaging='day' or 'night'",
})  # fmt: skip

_VERBS = {
    "zh": {"max": ("超过", "限值"), "min": ("低于", "下限"), "range": ("超出", "限值范围")},
    "en": {"max": ("exceeds", "limit"), "min": ("is below", "minimum"), "range": ("is outside", "range")},
}
_PHRASES = {
    "zh": {
        "text": "{pollutant} 实测 {measured}，{verb} {standard} {grade} {period} {word} {limit}（{extent}）"
        "；单次读数仅供参考，不构成法律认定",
        "unverified": "；注意：该限值未经核实（[memory]），须以标准原文为准",
        "converted": "{original}（折合 {converted}）", "above": "高于上限 {margin}", "below": "低于下限 {margin}",
        "by": "超出 {margin}", "short": "低 {margin}，限值/实测 {ratio}", "times": "{ratio} 倍",
    },
    "en": {
        "text": "{pollutant} measured {measured} {verb} the {standard} {grade} {period} {word} of {limit} ({extent})"
        "; a single reading is indicative only, not a legal determination",
        "unverified": "; note: this limit value is unverified ([memory]): check the standard's text",
        "converted": "{original} (= {converted})", "above": "{margin} above the upper bound",
        "below": "{margin} below the lower bound", "by": "by {margin}",
        "short": "short by {margin}; limit/value {ratio}", "times": "{ratio}×",
    },
}  # fmt: skip
_LOG_UNITS = frozenset({"dB(A)", "pH"})  # logarithmic scales: the distance says more than a ratio


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


def limits(standard: str, grade: str, *, averaging: str | None = None, code: str | None = None) -> list[Limit]:
    """The limits of one standard and grade, optionally of one averaging period (None or "all": every one)."""
    info = _standard(standard)
    name, period = _grade(info, grade), _period(averaging)
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


def noise_period(local_time: time) -> str:
    """Day from 06:00 to 22:00 local time, else night (GB 3096's default [memory]; local rules may differ)."""
    return "day" if time(6) <= local_time < time(22) else "night"


@dataclass(frozen=True)
class Exceedance:
    """A reading beyond a limit; ``value`` is in the limit's unit. Always indicative, never a legal finding."""

    limit: Limit
    value: float
    ratio: float
    indicative: bool = True
    reading_value: float | None = None
    reading_unit: str | None = None
    kind: str | None = None

    @property
    def margin(self) -> float:
        """How far beyond the bound the value is, in the limit's unit (dB(A) above, mg/L short, pH units out)."""
        limit, value = self.limit, Decimal(repr(self.value))
        if limit.bound == "range":
            low, high = Decimal(repr(limit.low)), Decimal(repr(limit.high))
            return float(low - value if value < low else value - high)
        bound = Decimal(repr(limit.value))
        return float(bound - value if limit.bound == "min" else value - bound)

    def message(self, language: str = "en") -> str:
        """One sentence naming pollutant, value, standard, grade, period, limit and extent; "zh" or "en"."""
        limit, phrases = self.limit, _PHRASES[language]
        verb, word = _VERBS[language][limit.bound]
        text = phrases["text"].format(
            pollutant=limit.pollutant_zh if language == "zh" else limit.pollutant_en,
            measured=self._measured(language),
            verb=verb,
            standard=limit.standard,
            grade=STANDARDS[limit.standard].grade_label(limit.grade, language),
            period=AVERAGING[limit.averaging][0 if language == "zh" else 1],
            word=word,
            limit=limit.describe(language),
            extent=self._extent(language),
        )
        return text if limit.verified else text + phrases["unverified"]

    def message_zh(self) -> str:
        return self.message("zh")

    def message_en(self) -> str:
        return self.message("en")

    def _measured(self, language: str) -> str:
        converted = format_amount(self.value, self.limit.unit, language)
        if self.reading_value is None or self.reading_unit in (None, self.limit.unit):
            return converted
        original = format_amount(self.reading_value, self.reading_unit or "", language)
        return _PHRASES[language]["converted"].format(original=original, converted=converted)

    def _extent(self, language: str) -> str:
        limit = self.limit
        if limit.bound == "range":
            key = "above" if self.value > (limit.high or 0.0) else "below"
        elif limit.unit in _LOG_UNITS:
            key = "by"
        else:
            key = "short" if limit.bound == "min" else "times"
        margin = format_amount(self.margin, limit.unit, language)
        return _PHRASES[language][key].format(margin=margin, ratio=_ratio_text(self.ratio))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (an infinite ratio, DO at or below zero, is written as null)."""
        data = asdict(self)
        data.update(ratio=_finite(self.ratio), margin=self.margin)
        data.update(message_zh=self.message_zh(), message_en=self.message_en())
        return data


@dataclass(frozen=True)
class Comparison:
    """What happened to one reading against one limit: "exceeds", "within" or "not-compared" (with a reason)."""

    code: str
    limit: Limit | None
    status: str
    reason: str | None  # a key of REASONS when not compared
    detail: str
    value: float | None = None  # the reading in the limit's unit
    ratio: float | None = None
    exceedance: Exceedance | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ratio=_finite(self.ratio), exceedance=None if self.exceedance is None else self.exceedance.to_json()
        )
        return data


def check(reading: Reading, *, standard: str, grade: str, averaging: str | None = None) -> list[Exceedance]:
    """The exceedances of one reading (see ``explain`` for what is compared and why something is not)."""
    comparisons = explain(reading, standard=standard, grade=grade, averaging=averaging)
    return [comparison.exceedance for comparison in comparisons if comparison.exceedance is not None]


def explain(reading: Reading, *, standard: str, grade: str, averaging: str | None = None) -> list[Comparison]:
    """One comparison per applicable limit, or one "no-limit" comparison when none applies."""
    info = _standard(standard)
    name, period = _grade(info, grade), _period(averaging)
    candidates = [x for x in _TABLES[info.name] if x.grade == name and x.code == reading.code]
    if not candidates:
        return [_no_limit(reading.code, f"{info.name} {name} defines no limit for {reading.code}")]
    chosen, reason = _select(reading, candidates, period)
    if not chosen:
        defined = ", ".join(dict.fromkeys(x.averaging for x in candidates))
        detail = f"{info.name} {name} defines no {period or _implied(reading)} limit for {reading.code} ({defined})"
        return [_no_limit(reading.code, detail)]
    if reason is not None:
        return [Comparison(reading.code, limit, "not-compared", reason, REASONS[reason]) for limit in chosen]
    return [_compare(reading, limit) for limit in chosen]


def _implied(reading: Reading) -> str | None:
    return _IMPLIED_PERIOD.get(reading.code) or _IMPLIED_PERIOD.get(reading.kind)


def _select(reading: Reading, candidates: list[Limit], period: str | None) -> tuple[list[Limit], str | None]:
    """The limits to compare with, and "period-required" when the caller must choose day or night."""
    if period == ALL:
        return candidates, None
    wanted = period or _implied(reading)
    if wanted is not None:
        return [x for x in candidates if x.averaging == wanted], None
    periods = [p for p in AVERAGING if any(x.averaging == p for x in candidates)]
    if _DAY_NIGHT.intersection(periods):
        return candidates, "period-required"
    return [x for x in candidates if x.averaging == periods[0]], None


def _no_limit(code: str, detail: str) -> Comparison:
    return Comparison(code, None, "not-compared", "no-limit", detail)


def _unfit(reading: Reading) -> tuple[str, str] | None:
    """Why a reading cannot be compared with any limit, or None."""
    if reading.flag != VALID_FLAG:
        meaning = DATA_FLAGS.get(reading.flag or "", "no flag sent" if reading.flag is None else "unknown flag")
        return "flag-not-valid", f"data flag {reading.flag!r} ({meaning}); only N is compared"
    if reading.value is None:
        return "value-missing", REASONS["value-missing"]
    if not math.isfinite(reading.value):
        return "value-not-finite", f"value {reading.value!r} is not a finite number"
    if reading.kind not in COMPARABLE_KINDS:
        return "kind-not-comparable", f"kind {reading.kind!r} is not a concentration or level"
    return None


def _compare(reading: Reading, limit: Limit) -> Comparison:
    problem = _unfit(reading)
    if problem is not None or reading.value is None or not reading.comparable:
        reason, detail = problem or ("value-missing", REASONS["value-missing"])
        return Comparison(reading.code, limit, "not-compared", reason, detail)
    unit = canonical_unit(reading.unit)
    if unit is None:
        return Comparison(reading.code, limit, "not-compared", "no-unit", REASONS["no-unit"])
    try:
        value = convert(reading.value, unit, limit.unit)
    except UnitError as exc:
        return Comparison(reading.code, limit, "not-compared", "unit-not-convertible", str(exc))
    ratio = _ratio(limit, value)
    if not _exceeds(limit, value):
        return Comparison(reading.code, limit, "within", None, "within the limit", value, ratio)
    beyond = math.inf if ratio is None else ratio  # never None for a value outside a range
    exceedance = Exceedance(limit, value, beyond, True, reading.value, unit, reading.kind)
    return Comparison(reading.code, limit, "exceeds", None, exceedance.message_en(), value, ratio, exceedance)


def _exceeds(limit: Limit, value: float) -> bool:
    if limit.bound == "range":
        return value < (limit.low or 0.0) or value > (limit.high or 0.0)
    bound = limit.value or 0.0
    return value < bound if limit.bound == "min" else value > bound


def _ratio(limit: Limit, value: float) -> float | None:
    """value/limit (max); limit/value (min; infinite at or below zero); 1 + outside distance/width (range, or None)."""
    if limit.bound == "range":
        low, high = limit.low or 0.0, limit.high or 0.0
        outside = max(low - value, value - high)
        return 1 + outside / (high - low) if outside > 0 else None
    bound = limit.value or 0.0
    if limit.bound == "min":
        return bound / value if value > 0 else math.inf
    return value / bound


def _finite(number: float | None) -> float | None:
    return number if number is not None and math.isfinite(number) else None


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.2f}".rstrip("0").rstrip(".") if math.isfinite(ratio) else "∞"
