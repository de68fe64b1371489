"""The early-warning comparison of one reading against the national limits.

The limit tables and the lookup of standards, grades and averaging periods live in ``evidence.limit_tables``;
everything this module has always offered (``limits``, ``STANDARDS``, ``Limit``, ``AVERAGING`` …) is still
importable from here.

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

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import time
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from evidence.errors import LimitTableError, UnitError, UnknownStandardError
from evidence.limit_tables import (
    ALL,
    AVERAGING,
    STANDARDS,
    Limit,
    Standard,
    _check_unique,
    _parse_cell,
    default_standard,
    limits,
    resolve,
    table,
)
from evidence.readings import DATA_FLAGS, VALID_FLAG, Reading
from evidence.units import canonical_unit, convert, format_amount

# The table-loading helpers ``_check_unique`` and ``_parse_cell`` stay importable from here (the tests use them).
__all__ = [
    "ALL", "AVERAGING", "COMPARABLE_KINDS", "REASONS", "STANDARDS", "Comparison", "Exceedance", "Limit",
    "LimitTableError", "Standard", "UnitError", "UnknownStandardError", "_check_unique", "_parse_cell", "check",
    "convert", "default_standard", "explain", "limits", "noise_period",
]  # fmt: skip


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
    info, name, period = resolve(standard, grade, averaging)
    candidates = [x for x in table(info.name) if x.grade == name and x.code == reading.code]
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
