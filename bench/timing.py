"""Repeated, interleaved timings: every variant runs once per round, in a rotating order."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.progress import note

Trial = Callable[[], float]
"""One repetition of a variant: does its own untimed set-up and clean-up and returns the timed seconds."""


@dataclass(frozen=True)
class Samples:
    """The timings of one variant, in seconds (or seconds per operation)."""

    seconds: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def interleave(trials: Mapping[str, Trial], rounds: int, label: str, unit: str = "s") -> dict[str, Samples]:
    """Run each trial ``rounds`` times, rotating which variant goes first so that none is always first."""
    names = list(trials)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            value = trials[name]()
            times[name].append(value)
            note(f"{label} {round_number + 1}/{rounds} {name}: {_show(value, unit)}")
    return {name: Samples(tuple(values)) for name, values in times.items()}


def _show(value: float, unit: str) -> str:
    return f"{value * 1e6:.2f} µs" if unit == "µs" else f"{value:.3f} s"
