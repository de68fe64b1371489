"""Plausible readings for simulated monitors: a slow random walk per channel, with optional excursions."""

from __future__ import annotations

import random
from dataclasses import dataclass

from evidence.readings import Reading

# (code, unit, typical value, spread): a portable dust monitor at a construction or quarry site.
DUST_CHANNELS = (("a34004", "ug/m3", 60.0, 15.0), ("a34002", "ug/m3", 110.0, 25.0), ("a34001", "ug/m3", 190.0, 40.0))
# A water-quality probe at an outfall.
WATER_CHANNELS = (
    ("w01001", "pH", 7.4, 0.3),
    ("w01009", "mg/L", 6.2, 0.8),
    ("w01018", "mg/L", 18.0, 4.0),
    ("w21003", "mg/L", 0.8, 0.3),
)
PROFILES = {"dust": DUST_CHANNELS, "water": WATER_CHANNELS}


def units_parameter(profile: str) -> str:
    """The ``units=`` a listen SOURCE needs for a simulated monitor (HJ 212 frames carry no units)."""
    return ",".join(f"{code}:{unit}" for code, unit, _typical, _spread in PROFILES[profile])


@dataclass
class ReadingWalk:
    """Successive readings for a set of channels; ``exceed`` pushes values well over typical limits."""

    profile: str = "dust"
    exceed: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._values = {code: typical for code, _unit, typical, _spread in PROFILES[self.profile]}

    def next(self) -> list[Reading]:
        readings = []
        for code, unit, typical, spread in PROFILES[self.profile]:
            value = self._values[code] + self._random.gauss(0, spread / 4)
            value = min(max(value, typical - 2 * spread), typical + 2 * spread)
            self._values[code] = value
            shown = value * (2.5 if self.exceed and code in ("a34004", "a34002", "w01018") else 1.0)
            readings.append(Reading(code, "Rtd", round(max(shown, 0.0), 2), "N", None, unit))
        return readings
