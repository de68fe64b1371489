"""Storing reading batches (duplicates ignored, so a resent batch changes nothing) and raising alerts.

The new readings of a batch are stored first; then ``server.alerts.service.raise_alerts`` compares the series they
belong to with the national limits the case chose (``evidence.standards``: only readings flagged N with a unit are
compared) and raises one alert per exceedance episode that has none yet, naming standard, grade, averaging
period, limit, value and ratio. ``BatchResult.alerts`` counts the alerts this batch raised.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.alerts.service import raise_alerts
from server.auth import Principal
from server.config import Settings
from server.errors import ApiError
from server.items.models import Item
from server.items.service import visible_item
from server.readings.models import Reading
from server.readings.schemas import BatchResult, ReadingBatch, ReadingIn


def store_batch(
    session: Session, *, settings: Settings, principal: Principal, batch: ReadingBatch, now: datetime
) -> BatchResult:
    item = visible_item(session, principal, batch.item_id)
    if item.kind != "sensor-batch":
        raise ApiError(422, f"item {item.id} is a {item.kind}, not a sensor-batch: readings derive from raw frames")
    known = _known_keys(session, item.id)
    stored: list[Reading] = []
    duplicates = 0
    for entry in batch.readings:
        key = (entry.device, entry.code, entry.kind, entry.measured_at.astimezone(UTC).replace(tzinfo=None))
        if key in known:
            duplicates += 1
            continue
        known.add(key)
        stored.append(_reading(item, entry))
    session.add_all(stored)
    session.flush()
    alerts = raise_alerts(session, settings=settings, principal=principal, stored=stored, now=now) if stored else []
    return BatchResult(stored=len(stored), duplicates=duplicates, alerts=len(alerts))


def _known_keys(session: Session, item_id: str) -> set[tuple[str, str, str, datetime]]:
    rows = session.execute(
        select(Reading.device, Reading.code, Reading.kind, Reading.measured_at).where(Reading.item_id == item_id)
    )
    return {(d, c, k, _naive_utc(m)) for d, c, k, m in rows}


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _reading(item: Item, entry: ReadingIn) -> Reading:
    position = entry.position
    return Reading(
        item_id=item.id,
        case_id=item.case_id,
        unit_id=item.unit_id,
        device=entry.device,
        code=entry.code,
        kind=entry.kind,
        value=entry.value,
        unit=entry.unit,
        flag=entry.flag,
        measured_at=entry.measured_at.astimezone(UTC),
        time_source=entry.time_source,
        lat=position.lat if position else None,
        lon=position.lon if position else None,
        alt=position.alt if position else None,
        accuracy_m=position.accuracy_m if position else None,
        position_source=position.source if position else None,
        fix_age_s=position.fix_age_s if position else None,
    )
