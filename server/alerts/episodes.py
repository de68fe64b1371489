"""Exceedance episodes: the pure rule that turns a series of compared readings into episodes (no I/O).

A *series* is the readings of one case, device, pollutant code and value kind compared with one standard, grade
and averaging period. Only readings that were compared count (flag N, a number, a unit): readings that were not
compared are left out and neither extend nor end an episode. An *episode* is a maximal run of consecutive points
(ordered by measured time, then reading id) that all exceed, where no two consecutive points are more than ``GAP``
apart: a point within the limit ends the run, and so does a silence longer than ``GAP``.

Early warning raises exactly one alert per episode. Alerts are insert-only evidence records, so "this episode has
its alert" is decided from the stored alerts: an episode is *alerted* when one of its readings started an alert
(``Alert.reading_id`` is the first reading of the episode it was raised for). Hence:

* a resent batch stores nothing and raises nothing;
* readings arriving out of order, within a batch or late, extend the episode they fall into (no new alert), since
  the series is always computed again from the stored readings;
* a late reading within the limit that splits an alerted episode leaves its first part alerted and raises an alert
  for the second part, which is a new episode;
* a late exceeding reading that joins two alerted episodes (filling the gap or replacing the within-limit reading
  between them) makes one episode with **two** alerts: both stay, since alerts are insert-only evidence of what
  was known when they were raised; nothing new is raised for the joined episode.

Only episodes a batch *touched* are considered (``touched``): those holding a new reading or the neighbour of one
in the series (a new within-limit reading splits its neighbours' episode). Older episodes are left alone, so a
change of the case's grade does not flood the case with alerts for its history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

GAP = timedelta(hours=1)


@dataclass(frozen=True)
class Point:
    """One compared reading of a series: its id, when it was measured, and whether it exceeds."""

    reading_id: int
    at: datetime
    exceeds: bool


@dataclass(frozen=True)
class Episode:
    """Consecutive exceeding points, in time order (at least one)."""

    points: tuple[Point, ...]

    @property
    def first(self) -> Point:
        return self.points[0]

    @property
    def last(self) -> Point:
        return self.points[-1]

    @property
    def reading_ids(self) -> frozenset[int]:
        return frozenset(point.reading_id for point in self.points)


def ordered(points: Iterable[Point]) -> list[Point]:
    """The series in time order (ties by reading id, so the order never depends on arrival)."""
    return sorted(points, key=lambda point: (point.at, point.reading_id))


def episodes(points: Iterable[Point], *, gap: timedelta = GAP) -> list[Episode]:
    """The episodes of a series, oldest first."""
    found: list[Episode] = []
    run: list[Point] = []
    for point in ordered(points):
        if run and (not point.exceeds or point.at - run[-1].at > gap):
            found.append(Episode(tuple(run)))
            run = []
        if point.exceeds:
            run.append(point)
    if run:
        found.append(Episode(tuple(run)))
    return found


def touched(points: Iterable[Point], new: Collection[int], *, gap: timedelta = GAP) -> list[Episode]:
    """The episodes holding a new reading (ids in ``new``) or a series neighbour of one."""
    series = ordered(points)
    near: set[int] = set()
    for index, point in enumerate(series):
        if point.reading_id in new:
            near.update(x.reading_id for x in series[max(index - 1, 0) : index + 2])
    return [episode for episode in episodes(series, gap=gap) if episode.reading_ids & near]


def unalerted(found: Iterable[Episode], alerted: Collection[int]) -> list[Episode]:
    """The episodes none of whose readings started an alert (``alerted``: the readings that did)."""
    return [episode for episode in found if not any(point.reading_id in alerted for point in episode.points)]
