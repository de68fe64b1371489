"""Unit conversion for comparing readings with national limits: exact, and refusing what it cannot know.

Only conversions that need no outside fact are made: mass concentration in air (ng/m³, µg/m³, mg/m³) and mass
concentration in water (ng/L, µg/L, mg/L), each a power of ten. Identical units (after spelling is normalised)
pass unchanged, whatever they are (dB(A), pH, Bq/L). Everything else raises ``UnitError``: a volume ratio (ppm,
ppb) needs the molar mass and the reference state, an air unit on a water channel is a configuration error, and
neither is guessed.

Conversion is decimal-exact: the value's shortest decimal form (``repr``) is shifted by the power of ten, so
0.5 mg/m³ becomes exactly 500 µg/m³ and any value with at most 15 significant digits survives a round trip.
"""

from __future__ import annotations

import math
from decimal import Decimal

from evidence.errors import UnitError
from evidence.readings import normalize_unit

__all__ = ["UnitError", "canonical_unit", "convert", "display_unit", "format_amount", "format_number"]


# Spellings evidence.readings does not know yet (HJ 212-2017 appendix B default units among them).
_EXTRA_ALIASES = {
    "ng/L": ("ng/l", "纳克/升"),
    "Bq/L": ("bq/l", "贝可/升", "贝可勒尔/升", "贝可[勒尔]/升"),
    "count/L": ("count/l", "counts/l", "个/l", "个/升"),
}
_EXTRA_LOOKUP = {alias.lower(): unit for unit, aliases in _EXTRA_ALIASES.items() for alias in aliases}

# Each convertible unit: (dimension, power of ten of its mass unit in grams per its volume unit).
_SCALES = {
    "ng/m3": ("mass/air", -9),
    "ug/m3": ("mass/air", -6),
    "mg/m3": ("mass/air", -3),
    "ng/L": ("mass/water", -9),
    "ug/L": ("mass/water", -6),
    "mg/L": ("mass/water", -3),
}

_DISPLAY = {
    "ug/m3": "µg/m³",
    "mg/m3": "mg/m³",
    "ng/m3": "ng/m³",
    "ug/L": "µg/L",
    "pH": "",
    "count/L": "个/L",
}


def canonical_unit(unit: str | None) -> str | None:
    """The canonical spelling of a unit (``µg/m³`` → ``ug/m3``, ``个/升`` → ``count/L``); None when absent."""
    normal = normalize_unit(unit)
    if normal is None:
        return None
    return _EXTRA_LOOKUP.get(normal.lower(), normal)


def display_unit(unit: str, language: str = "zh") -> str:
    """How a canonical unit is written for people (``ug/m3`` → ``µg/m³``; pH has no unit)."""
    if unit == "count/L" and language == "en":
        return "counts/L"
    return _DISPLAY.get(unit, unit)


def format_number(number: float | None) -> str:
    """A number for people: up to 6 significant digits, never in exponent form (0.00005, not 5e-05)."""
    if number is None or not math.isfinite(number):
        return "∞" if number == math.inf else str(number)
    text = format(Decimal(f"{number:.6g}").normalize(), "f")
    return "0" if text == "-0" else text


def format_amount(number: float | None, unit: str, language: str = "zh") -> str:
    """A number with its unit for people: ``120 µg/m³``, ``9.5`` (pH)."""
    return f"{format_number(number)} {display_unit(unit, language)}".strip()


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` from one unit to another, exactly; raise ``UnitError`` when it cannot be done."""
    source, target = canonical_unit(from_unit), canonical_unit(to_unit)
    if source is None or target is None:
        raise UnitError(f"no unit given (from {from_unit!r} to {to_unit!r})")
    if source == target:
        return value
    if source not in _SCALES or target not in _SCALES:
        raise UnitError(f"no conversion from {source} to {target}")
    (source_kind, source_exp), (target_kind, target_exp) = _SCALES[source], _SCALES[target]
    if source_kind != target_kind:
        raise UnitError(f"{source} and {target} measure different things ({source_kind}, {target_kind})")
    return float(Decimal(repr(value)).scaleb(source_exp - target_exp))
