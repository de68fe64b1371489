"""The GNSS track: where was the gateway (or a monitor) at instant T, with the fix used, its age and quality.

Two steps, both pure (no I/O, no clock reads):

1. :class:`FixAssembler` turns decoded NMEA sentences into :class:`Fix` values with full UTC instants. RMC carries
   a date; GGA only a time of day, so its date comes from a *reference instant*: the latest RMC instant projected
   forward by the gateway time elapsed since it arrived (only a *valid* RMC anchors: before a fix, receivers send
   their RTC's guess), else the gateway clock (``received_at``). Of the three
   candidate dates (reference day -1, 0, +1) the one putting the fix closest to the reference wins, which handles
   midnight rollover. Sentences of one epoch (same instant) merge into one Fix: GGA gives altitude, quality,
   satellites and HDOP (and its position wins), RMC gives the date. An epoch becomes a Fix only if *every* one of
   its sentences is valid and has a position, and it is not a manual-input (GGA 7, RMC mode M) or simulated
   (GGA 8, RMC mode S) position: those are not measurements. An epoch is emitted as soon as it holds both a GGA
   and an RMC, else when the next epoch starts, or on :meth:`FixAssembler.flush`.
2. :class:`GnssTrack` keeps fixes sorted by instant and answers :meth:`GnssTrack.position_at`. It interpolates
   linearly between the two bracketing fixes when they are at most ``max_gap`` apart, come from the same source
   and imply a plausible speed (``max_speed_mps``, default 100 m/s; above it the pair is a jump and is not
   interpolated across). Otherwise it answers the nearest fix within ``max_fix_age``, else None: a place is
   never invented. Longitude is interpolated the short way round, across the antimeridian if need be.

``accuracy_m`` is the receiver's horizontal error estimate, HDOP x :data:`UERE_M` (5 m user equivalent range
error), conservative for DGPS/RTK; None without HDOP and for dead reckoning (quality 6), whose error HDOP does
not describe. It does not include movement during ``fix_age_s``: consumers weigh the age themselves.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from device_gateway.protocols.nmea import Sentence

SOURCES = frozenset({"gateway-gnss-track", "device-gnss"})
UERE_M = 5.0
EARTH_RADIUS_M = 6_371_008.8
_NOT_MEASURED_QUALITY = frozenset({7, 8})  # GGA manual input, simulation
_NOT_MEASURED_MODE = frozenset({"M", "S", "N"})  # RMC manual, simulator, not valid


def _utc(when: datetime, name: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (got naive {when.isoformat()})")
    return when.astimezone(UTC)


@dataclass(frozen=True)
class Fix:
    """One GNSS fix at an aware UTC instant (normalized to UTC)."""

    at: datetime
    lat: float
    lon: float
    alt: float | None
    quality: int | None
    satellites: int | None
    hdop: float | None
    source: str  # "gateway-gnss-track" or "device-gnss"

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at, "Fix.at"))
        if self.source not in SOURCES:
            raise ValueError(f"unknown fix source {self.source!r}")
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise ValueError(f"position {self.lat}, {self.lon} is out of range")

    @property
    def accuracy_m(self) -> float | None:
        if self.hdop is None or self.quality == 6:
            return None
        return self.hdop * UERE_M


@dataclass(frozen=True)
class Position:
    """The answer to "where at instant T": a fix or an interpolation between two, with the age of the data."""

    lat: float
    lon: float
    alt: float | None
    accuracy_m: float | None
    source: str
    fix_age_s: float  # seconds between T and the fix used (interpolation: the nearer bracketing fix)
    quality: int | None
    interpolated: bool

    def to_json(self) -> dict[str, Any]:
        """The custody ``place`` shape; lat/lon rounded to 1e-7 degree (about 1 cm), ages to the millisecond."""
        return {
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "alt": None if self.alt is None else round(self.alt, 3),
            "accuracy_m": None if self.accuracy_m is None else round(self.accuracy_m, 2),
            "source": self.source,
            "fix_age_s": round(self.fix_age_s, 3),
            "quality": self.quality,
            "interpolated": self.interpolated,
        }


@dataclass
class _Epoch:
    at: datetime
    gga: Sentence | None = None
    rmc: Sentence | None = None
    emitted: bool = False


class FixAssembler:
    """Turns a sentence stream into Fixes with full UTC instants (see the module docstring)."""

    def __init__(self, *, source: str = "gateway-gnss-track") -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown fix source {source!r}")
        self.source = source
        self._pending: _Epoch | None = None
        self._rmc_anchor: tuple[datetime, datetime] | None = None  # (RMC instant, gateway time it arrived)

    def add(self, sentence: Sentence, *, received_at: datetime) -> Fix | None:
        """Take one sentence; return the Fix of an epoch that this sentence completed or closed, if any."""
        received_at = _utc(received_at, "received_at")
        at = self._instant(sentence, received_at)
        if at is None:
            return None
        pending = self._pending
        if pending is not None and pending.at == at:
            if pending.emitted:
                return None
            _merge(pending, sentence)
            if pending.gga is not None and pending.rmc is not None:
                return self._emit(pending)
            return None
        self._pending = _Epoch(at=at)
        _merge(self._pending, sentence)
        return None if pending is None or pending.emitted else self._emit(pending)

    def flush(self) -> Fix | None:
        """The Fix of the last epoch, if it was not emitted yet (call at the end of a stream)."""
        pending = self._pending
        return None if pending is None or pending.emitted else self._emit(pending)

    def _instant(self, sentence: Sentence, received_at: datetime) -> datetime | None:
        if sentence.time is None:
            return None
        if sentence.date is not None:
            at = datetime.combine(sentence.date, sentence.time, UTC)
            if sentence.valid:  # before a fix, receivers may send their RTC's guess of the date
                self._rmc_anchor = (at, received_at)
            return at
        reference = received_at
        if self._rmc_anchor is not None:
            rmc_at, rmc_received = self._rmc_anchor
            reference = rmc_at + (received_at - rmc_received)
        return nearest_instant(sentence.time, reference)

    def _emit(self, epoch: _Epoch) -> Fix | None:
        epoch.emitted = True
        return _epoch_fix(epoch, self.source)


def nearest_instant(time_of_day: time, reference: datetime) -> datetime:
    """The UTC instant with this time of day closest to ``reference`` (yesterday, today or tomorrow)."""
    day: date = reference.astimezone(UTC).date()
    candidates = [datetime.combine(day + timedelta(days=d), time_of_day, UTC) for d in (-1, 0, 1)]
    return min(candidates, key=lambda c: abs(c - reference))


def _merge(epoch: _Epoch, sentence: Sentence) -> None:
    if sentence.type == "GGA" and epoch.gga is None:
        epoch.gga = sentence
    elif sentence.type == "RMC" and epoch.rmc is None:
        epoch.rmc = sentence


def _epoch_fix(epoch: _Epoch, source: str) -> Fix | None:
    """A Fix when every sentence of the epoch is valid and measured; GGA's position wins over RMC's."""
    gga, rmc = epoch.gga, epoch.rmc
    if any(s is not None and not s.valid for s in (gga, rmc)):
        return None
    if gga is not None and gga.quality in _NOT_MEASURED_QUALITY:
        return None
    if rmc is not None and rmc.mode in _NOT_MEASURED_MODE:
        return None
    best = gga if gga is not None else rmc
    if best is None or best.lat is None or best.lon is None:
        return None
    return Fix(
        at=epoch.at,
        lat=best.lat,
        lon=best.lon,
        alt=None if gga is None else gga.alt,
        quality=None if gga is None else gga.quality,
        satellites=None if gga is None else gga.satellites,
        hdop=None if gga is None else gga.hdop,
        source=source,
    )


def distance_m(a: Fix, b: Fix) -> float:
    """Great-circle (haversine) distance between two fixes, in metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class GnssTrack:
    """Fixes sorted by instant; answers "where at T" by interpolation, nearest fix, or None."""

    def __init__(
        self,
        *,
        max_fix_age: timedelta = timedelta(seconds=30),
        max_gap: timedelta = timedelta(seconds=120),
        max_speed_mps: float = 100.0,
    ) -> None:
        self.max_fix_age = max_fix_age
        self.max_gap = max_gap
        self.max_speed_mps = max_speed_mps
        self._times: list[datetime] = []
        self._fixes: list[Fix] = []

    def __len__(self) -> int:
        return len(self._fixes)

    def add(self, fix: Fix) -> None:
        """Insert in instant order (any arrival order); a second fix at the same instant is ignored."""
        if not self._times or fix.at > self._times[-1]:
            self._times.append(fix.at)
            self._fixes.append(fix)
            return
        i = bisect.bisect_left(self._times, fix.at)
        if self._times[i] == fix.at:
            return
        self._times.insert(i, fix.at)
        self._fixes.insert(i, fix)

    def fixes_between(self, start: datetime, end: datetime) -> list[Fix]:
        """Fixes with start <= at <= end, in instant order."""
        lo = bisect.bisect_left(self._times, _utc(start, "start"))
        hi = bisect.bisect_right(self._times, _utc(end, "end"))
        return self._fixes[lo:hi]

    def position_at(self, when: datetime) -> Position | None:
        """Where at ``when`` (aware): interpolated, else the nearest fix within ``max_fix_age``, else None."""
        when = _utc(when, "when")
        i = bisect.bisect_left(self._times, when)
        after = self._fixes[i] if i < len(self._fixes) else None
        if after is not None and after.at == when:
            return _at_fix(after, when)
        before = self._fixes[i - 1] if i > 0 else None
        if before is not None and after is not None and self._can_interpolate(before, after):
            return _interpolate(before, after, when)
        return self._nearest(before, after, when)

    def _can_interpolate(self, before: Fix, after: Fix) -> bool:
        gap = after.at - before.at
        if gap > self.max_gap or before.source != after.source:
            return False
        return distance_m(before, after) <= self.max_speed_mps * gap.total_seconds()

    def _nearest(self, before: Fix | None, after: Fix | None, when: datetime) -> Position | None:
        """The closer of the two neighbours within max_fix_age; on a tie, the earlier one."""
        candidates = [f for f in (before, after) if f is not None and abs(f.at - when) <= self.max_fix_age]
        if not candidates:
            return None
        return _at_fix(min(candidates, key=lambda f: abs(f.at - when)), when)


def _at_fix(fix: Fix, when: datetime) -> Position:
    return Position(
        lat=fix.lat,
        lon=fix.lon,
        alt=fix.alt,
        accuracy_m=fix.accuracy_m,
        source=fix.source,
        fix_age_s=abs((when - fix.at).total_seconds()),
        quality=fix.quality,
        interpolated=False,
    )


def _interpolate(before: Fix, after: Fix, when: datetime) -> Position:
    """Linear in time between the bracketing fixes; accuracy and quality of the worse/nearer fix."""
    fraction = (when - before.at) / (after.at - before.at)
    nearer = before if fraction <= 0.5 else after
    dlon = (after.lon - before.lon + 540.0) % 360.0 - 180.0  # the short way round
    lon = before.lon + fraction * dlon
    lon = (lon + 180.0) % 360.0 - 180.0 if not -180.0 <= lon <= 180.0 else lon
    alt = None
    if before.alt is not None and after.alt is not None:
        alt = before.alt + fraction * (after.alt - before.alt)
    accuracies = [before.accuracy_m, after.accuracy_m]
    accuracy = None if None in accuracies else max(a for a in accuracies if a is not None)
    return replace(
        _at_fix(nearer, when),
        lat=before.lat + fraction * (after.lat - before.lat),
        lon=lon,
        alt=alt,
        accuracy_m=accuracy,
        interpolated=True,
    )
