"""Figures (measured value, baseline, ratio, goal, verdict) and their text and JSON renderings."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

MiB = 1024 * 1024

Comparison = Literal[">=", "<=", "<"]
_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}
_COLUMNS = ("figure", "measured", "baseline", "ratio", "goal", "result")


@dataclass(frozen=True)
class Goal:
    """A target for a figure's judged value, e.g. ``>= 1.1`` (a speed ratio) or ``< 64 MiB``."""

    comparison: Comparison
    target: float
    unit: str = ""

    def met(self, value: float) -> bool:
        return _COMPARE[self.comparison](value, self.target)

    def __str__(self) -> str:
        return f"{self.comparison} {self.target:g}{self.unit}"


@dataclass(frozen=True)
class Figure:
    """One line of the report. ``judged`` (the ratio unless given) is what the goal is checked against;
    ``skipped`` says why a figure could not be measured (its status is then SKIP)."""

    key: str
    name: str
    measured: str
    baseline: str
    ratio: float | None
    goal: Goal | None
    judged: float | None = None
    ratio_text: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # why the figure was not measured (e.g. no broker): status SKIP

    @property
    def judged_value(self) -> float | None:
        return self.ratio if self.judged is None else self.judged

    @property
    def status(self) -> str:
        value = self.judged_value
        if self.skipped is not None:
            return "SKIP"
        if self.goal is None or value is None:
            return "INFO"
        return "PASS" if self.goal.met(value) else "MISS"

    def cells(self) -> tuple[str, ...]:
        ratio = self.ratio_text or ("-" if self.ratio is None else f"{self.ratio:.2f}")
        goal = "-" if self.goal is None else str(self.goal)
        return (self.name, self.measured, self.baseline, ratio, goal, self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "measured": self.measured,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "goal": None if self.goal is None else str(self.goal),
            "judged": self.judged_value,
            "status": self.status,
            "skipped": self.skipped,
            "values": dict(self.values),
        }


def render_text(figures: Sequence[Figure], machine: Mapping[str, str], parameters: Mapping[str, Any]) -> str:
    header = [f"{name}: {_plain(value)}" for name, value in {**machine, **parameters}.items()]
    rows = [_COLUMNS, *(figure.cells() for figure in figures)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join([*header, "", *(line.rstrip() for line in lines)])


def render_json(figures: Sequence[Figure], machine: Mapping[str, str], parameters: Mapping[str, Any]) -> str:
    document = {
        "machine": dict(machine),
        "parameters": dict(parameters),
        "figures": [figure.to_json() for figure in figures],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _plain(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def seconds_text(best: float, median: float) -> str:
    return f"best {best:.3f} s, median {median:.3f} s"


def rate_text(per_second: float) -> str:
    return f"{per_second:,.0f}/s"


def mib_text(size: float) -> str:
    return f"{size / MiB:.1f} MiB"


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"
