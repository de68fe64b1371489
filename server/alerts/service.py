"""Raising exceedance alerts for the readings a batch stored: one alert per exceedance episode.

For every series a batch touched (case, device, code, value kind), the series' stored readings are loaded once and
compared with the limits the case chose (``limits_for``: the case's grade for each standard that covers the code,
else ``evidence.limit_tables.default_standard``); ``server.alerts.episodes`` cuts each (standard, grade, averaging)
comparison into episodes, and every touched episode that has no alert yet gets one. Each alert raised is announced
(``alert.raised`` webhook event) and, when the case has ``auto_clue``, opens a clue with the episode's readings
attached as evidence (``server.alerts.clue``).

Requests storing readings of one case raise its alerts one at a time: the case row is locked (``FOR NO KEY
UPDATE`` on PostgreSQL, which the readings' foreign keys do not conflict with; SQLite serializes writers anyway),
so two workers never raise two alerts for one episode.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evidence import limit_tables, standards
from evidence.readings import Reading as ReadingValue
from evidence.standards import Exceedance
from server.alerts import episodes
from server.alerts.clue import open_alert_clue
from server.alerts.models import Alert
from server.auth import Principal
from server.cases.models import Case
from server.config import Settings
from server.readings.models import Reading
from server.webhooks.service import emit

SeriesKey = tuple[int, str, str, str]  # case id, device, code, kind
AlertKey = tuple[str, str, str]  # standard, grade, averaging


@dataclass(frozen=True)
class Comparison:
    """One (standard, grade, averaging) view of a series: its compared points and the exceedances among them."""

    standard: str
    grade: str
    averaging: str
    points: list[episodes.Point]
    exceedances: dict[int, Exceedance]


def limits_for(case: Case, code: str) -> list[tuple[str, str]]:
    """The (standard, grade) pairs a reading of ``code`` in ``case`` is compared with."""
    chosen = [(x["standard"], x["grade"]) for x in case.limits if _covers(x["standard"], code)]
    if chosen:
        return chosen
    default = standards.default_standard(code)
    return [default] if default is not None else []


def _covers(standard: str, code: str) -> bool:
    try:
        return any(limit.code == code for limit in limit_tables.table(standard))
    except KeyError:  # a standard the tables no longer hold
        return False


def raise_alerts(
    session: Session, *, settings: Settings, principal: Principal, stored: Sequence[Reading], now: datetime
) -> list[Alert]:
    """The alerts the newly ``stored`` readings raise (episodes without an alert yet), inserted and announced."""
    new = {reading.id for reading in stored}
    raised: list[Alert] = []
    for key in sorted({(r.case_id, r.device, r.code, r.kind) for r in stored}):
        case = session.get(Case, key[0], with_for_update={"key_share": True})  # one request per case at a time
        pairs = limits_for(case, key[2]) if case is not None else []
        if case is not None and pairs:
            context = _Context(session, settings, principal, case, key, _series(session, key), now)
            raised += _raise_for_series(context, pairs=pairs, new=new)
    return raised


@dataclass(frozen=True)
class _Context:
    session: Session
    settings: Settings
    principal: Principal
    case: Case
    key: SeriesKey
    series: dict[int, Reading]
    now: datetime


def _raise_for_series(context: _Context, *, pairs: list[tuple[str, str]], new: set[int]) -> list[Alert]:
    raised: list[Alert] = []
    alerted = _alerted(context.session, context.key)
    for comparison in _comparisons(context.series, pairs):
        found = episodes.touched(comparison.points, new)
        started = alerted[(comparison.standard, comparison.grade, comparison.averaging)]
        for episode in episodes.unalerted(found, started):
            alert = _insert(context, comparison=comparison, episode=episode)
            if alert is not None:
                raised.append(alert)
                _follow_up(context, alert, episode)
    return raised


def _series(session: Session, key: SeriesKey) -> dict[int, Reading]:
    case_id, device, code, kind = key
    rows = session.scalars(
        select(Reading).where(
            Reading.case_id == case_id, Reading.device == device, Reading.code == code, Reading.kind == kind
        )
    )
    return {reading.id: reading for reading in rows}


def _alerted(session: Session, key: SeriesKey) -> defaultdict[AlertKey, set[int]]:
    """Per (standard, grade, averaging): the readings of the series that started an alert."""
    case_id, device, code, kind = key
    rows = session.execute(
        select(Alert.standard, Alert.grade, Alert.averaging, Alert.reading_id)
        .join(Reading, Reading.id == Alert.reading_id)
        .where(Reading.case_id == case_id, Reading.device == device, Reading.code == code, Reading.kind == kind)
    )
    started: defaultdict[AlertKey, set[int]] = defaultdict(set)
    for standard, grade, averaging, reading_id in rows:
        started[(standard, grade, averaging)].add(reading_id)
    return started


def _comparisons(series: dict[int, Reading], pairs: Iterable[tuple[str, str]]) -> list[Comparison]:
    found: dict[AlertKey, Comparison] = {}
    for standard, grade in pairs:
        for reading in series.values():
            value = ReadingValue(reading.code, reading.kind, reading.value, reading.flag, None, reading.unit)
            for result in standards.explain(value, standard=standard, grade=grade):
                if result.limit is None or result.status not in ("exceeds", "within"):
                    continue  # not compared: neither extends nor ends an episode
                limit = result.limit
                key = (limit.standard, limit.grade, limit.averaging)
                comparison = found.setdefault(key, Comparison(*key, [], {}))
                point = episodes.Point(reading.id, reading.measured_at, result.exceedance is not None)
                comparison.points.append(point)
                if result.exceedance is not None:
                    comparison.exceedances[reading.id] = result.exceedance
    return list(found.values())


def _insert(context: _Context, *, comparison: Comparison, episode: episodes.Episode) -> Alert | None:
    """Insert the episode's alert; None when another request raised it first (same first reading)."""
    peak = max(episode.points, key=lambda point: _severity(comparison.exceedances[point.reading_id]))
    exceedance = comparison.exceedances[peak.reading_id]
    limit, case, key, session = exceedance.limit, context.case, context.key, context.session
    alert = Alert(
        reading_id=episode.first.reading_id,
        case_id=case.id,
        unit_id=case.unit_id,
        code=key[2],
        standard=limit.standard,
        grade=limit.grade,
        averaging=limit.averaging,
        value=exceedance.value,
        ratio=_finite(exceedance.ratio),
        limit=limit.to_json(),
        message_zh=exceedance.message_zh(),
        message_en=exceedance.message_en(),
        created_at=context.now,
        device=key[1],
        kind=key[3],
        started_at=episode.first.at,
        last_at=episode.last.at,
        last_reading_id=episode.last.reading_id,
        peak_reading_id=peak.reading_id,
        episode_readings=len(episode.points),
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return None
    return alert


def _severity(exceedance: Exceedance) -> float:
    return exceedance.ratio


def _finite(ratio: float) -> float | None:
    return ratio if ratio != float("inf") else None


def _follow_up(context: _Context, alert: Alert, episode: episodes.Episode) -> None:
    """Open the clue (``auto_clue``), then announce the alert."""
    case, clue_case_id = context.case, None
    if case.auto_clue:
        readings = [context.series[point.reading_id] for point in episode.points]
        clue_case_id = open_alert_clue(
            context.session,
            settings=context.settings,
            principal=context.principal,
            case=case,
            alert=alert,
            readings=readings,
            now=context.now,
        )
    emit(context.session, unit_id=case.unit_id, event_type="alert.raised", data=event_data(case, alert, clue_case_id))


def event_data(case: Case, alert: Alert, clue_case_id: int | None) -> dict[str, Any]:
    """The ``alert.raised`` webhook event's data."""
    return {
        "alert_id": alert.id,
        "case_id": case.id,
        "case_number": case.number,
        "unit": case.unit.code,
        "code": alert.code,
        "device": alert.device,
        "standard": alert.standard,
        "grade": alert.grade,
        "averaging": alert.averaging,
        "value": alert.value,
        "limit": alert.limit,
        "ratio": alert.ratio,
        "started_at": alert.started_at.isoformat() if alert.started_at else None,
        "last_at": alert.last_at.isoformat() if alert.last_at else None,
        "clue_case_id": clue_case_id,
        "indicative": True,
    }
