"""The episode rule (``server.alerts.episodes``): examples and hypothesis properties, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import hypothesis.strategies as st
from hypothesis import given

from server.alerts.episodes import GAP, Episode, Point, episodes, ordered, touched, unalerted

T0 = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)


def series(*values: tuple[int, bool]) -> list[Point]:
    """Points at ``minutes`` after T0, with ids in time order."""
    return [Point(n + 1, T0 + timedelta(minutes=minutes), exceeds) for n, (minutes, exceeds) in enumerate(values)]


def ids(found: list[Episode]) -> list[list[int]]:
    return [[point.reading_id for point in episode.points] for episode in found]


def test_a_within_reading_and_a_long_silence_end_an_episode() -> None:
    points = series((0, True), (10, True), (20, False), (30, True), (60, True), (121, True))
    assert ids(episodes(points)) == [[1, 2], [4, 5], [6]]


def test_a_silence_of_exactly_the_gap_does_not_end_an_episode() -> None:
    assert ids(episodes(series((0, True), (60, True)))) == [[1, 2]]


def test_touched_holds_the_episodes_of_new_readings_and_of_their_neighbours() -> None:
    points = series((0, True), (10, True), (20, False), (30, True), (40, True), (50, False), (60, True))
    assert ids(touched(points, {3})) == [[1, 2], [4, 5]]  # a within reading touches both its neighbours' episodes
    assert ids(touched(points, {7})) == [[7]]
    assert ids(touched(points, set())) == []


def test_an_alerted_reading_anywhere_in_an_episode_marks_it_alerted() -> None:
    found = episodes(series((0, True), (10, True), (20, False), (30, True)))
    assert ids(unalerted(found, {2})) == [[4]]


times = st.integers(min_value=0, max_value=600)  # minutes
point_lists = st.lists(st.tuples(times, st.booleans()), max_size=40).map(
    lambda pairs: [Point(n + 1, T0 + timedelta(minutes=m), exceeds) for n, (m, exceeds) in enumerate(pairs)]
)


@given(point_lists)
def test_episodes_partition_the_exceeding_points(points: list[Point]) -> None:
    found = episodes(points)
    covered = [point for episode in found for point in episode.points]
    assert sorted(p.reading_id for p in covered) == sorted(p.reading_id for p in points if p.exceeds)
    for episode in found:
        assert list(episode.points) == ordered(episode.points)
        assert all(later.at - earlier.at <= GAP for earlier, later in pairwise(episode.points))


@given(point_lists)
def test_episodes_are_maximal(points: list[Point]) -> None:
    """Between two consecutive episodes there is a within point, or a silence longer than the gap."""
    series_ = ordered(points)
    position = {point.reading_id: n for n, point in enumerate(series_)}
    found = episodes(points)
    for before, after in pairwise(found):
        between = series_[position[before.last.reading_id] + 1 : position[after.first.reading_id]]
        assert any(not point.exceeds for point in between) or after.first.at - before.last.at > GAP


@given(point_lists, st.randoms(use_true_random=False))
def test_episodes_do_not_depend_on_arrival_order(points: list[Point], random: object) -> None:
    shuffled = list(points)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert episodes(shuffled) == episodes(points)


def _stream(points: list[Point], batches: list[list[Point]]) -> tuple[set[int], int]:
    """Feed ``batches`` as the server does: alert the touched episodes without an alert; return starts, alerts."""
    stored: list[Point] = []
    started: set[int] = set()
    raised = 0
    for batch in batches:
        stored += batch
        for episode in unalerted(touched(stored, {p.reading_id for p in batch}), started):
            started.add(episode.first.reading_id)
            raised += 1
    return started, raised


@given(point_lists, st.integers(min_value=1, max_value=10))
def test_an_in_order_stream_raises_exactly_one_alert_per_episode(points: list[Point], size: int) -> None:
    in_order = ordered(points)
    batches = [in_order[n : n + size] for n in range(0, len(in_order), size)]
    started, raised = _stream(points, batches)
    assert raised == len(episodes(points))
    assert _stream(points, [*batches, *batches])[1] == raised, "resending raises nothing"
    assert started == {episode.first.reading_id for episode in episodes(points)}


@given(point_lists, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=10))
def test_any_arrival_order_leaves_every_episode_alerted(points: list[Point], random: object, size: int) -> None:
    shuffled = list(points)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    batches = [shuffled[n : n + size] for n in range(0, len(shuffled), size)]
    started, raised = _stream(points, batches)
    assert unalerted(episodes(points), started) == []
    assert raised == len(started)
    exceeding = {point.reading_id for point in points if point.exceeds}
    assert started <= exceeding, "only an exceeding reading starts an alert"
    if len(batches) <= 1:
        assert raised == len(episodes(points)), "one batch, whatever its order: one alert per episode"
