"""Storing reading batches (duplicates ignored, so a resent batch changes nothing) and raising alerts.

Each new reading is compared with the national limit for its pollutant (``evidence.standards``: only readings
flagged N with a unit are compared; the default standard for the pollutant's domain unless the case chose one);
every exceedance becomes an alert naming standard, grade, averaging period, limit, value and ratio.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence import standards
from evidence.readings import Reading as ReadingValue
from server.alerts.models import Alert
from server.auth import Principal
from server.errors import ApiError
from server.items.models import Item
from server.items.service import visible_item
from server.readings.models import Reading
from server.readings.schemas import BatchResult, ReadingBatch, ReadingIn


def store_batch(session: Session, *, principal: Principal, batch: ReadingBatch) -> BatchResult:
    item = visible_item(session, principal, batch.item_id)
    if item.kind != "sensor-batch":
        raise ApiError(422, f"item {item.id} is a {item.kind}, not a sensor-batch: readings derive from raw frames")
    known = _known_keys(session, item.id)
    stored = duplicates = alerts = 0
    for entry in batch.readings:
        key = (entry.device, entry.code, entry.kind, entry.measured_at.astimezone(UTC).replace(tzinfo=None))
        if key in known:
            duplicates += 1
            continue
        known.add(key)
        reading = _reading(item, entry)
        session.add(reading)
        session.flush()
        stored += 1
        alerts += _raise_alerts(session, reading, entry)
    return BatchResult(stored=stored, duplicates=duplicates, alerts=alerts)


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


def _raise_alerts(session: Session, reading: Reading, entry: ReadingIn) -> int:
    value = ReadingValue(entry.code, entry.kind, entry.value, entry.flag, None, entry.unit)
    chosen = standards.default_standard(entry.code)
    if chosen is None:
        return 0
    standard, grade = chosen
    raised = 0
    for exceedance in standards.check(value, standard=standard, grade=grade):
        limit = exceedance.limit
        session.add(
            Alert(
                reading_id=reading.id,
                case_id=reading.case_id,
                unit_id=reading.unit_id,
                code=reading.code,
                standard=limit.standard,
                grade=limit.grade,
                averaging=limit.averaging,
                value=exceedance.value,
                ratio=exceedance.ratio if exceedance.ratio != float("inf") else None,
                limit=limit.to_json(),
                message_zh=exceedance.message_zh(),
                message_en=exceedance.message_en(),
                created_at=datetime.now(UTC),
            )
        )
        raised += 1
    return raised
