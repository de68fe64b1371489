"""Automatic clues: an alert of a case with ``auto_clue`` opens a clue (a new case at stage clue) in the case's unit,
with the episode's readings attached to it as evidence.

The attached item (kind ``document``, ``application/json``, id ``alert-<alert id>-readings``) is the canonical JSON
(RFC 8785, ``evidence.canonical``) of the readings: value, unit, flag, times, position, device and the sensor-batch
item each was derived from, with that item's SHA-256. Its bytes go to the blob store and it is registered like any
item: the server signs its ``received`` custody event, which is appended to the global log, so ``POST
/items/{id}/verify`` checks it like every other item. The clue is opened, and the item registered, on behalf of
whoever stored the readings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from evidence.canonical import canonical_bytes
from evidence.limit_tables import AVERAGING, STANDARDS
from evidence.units import format_amount
from server.alerts.models import Alert
from server.auth import Principal
from server.cases.deadlines import CHINA_TIME
from server.cases.models import Case
from server.clues.service import open_clue
from server.config import Settings
from server.items.models import Item
from server.items.schemas import RegisterItem
from server.items.service import register_server_document
from server.readings.models import Reading

SOURCE = "early-warning"
FORMAT = "fieldproof.alert-readings/1"
INDICATIVE_ZH = "指示性预警，非法定监测结论"


def readings_item_id(alert_id: int) -> str:
    """The id of the item holding an alert's readings (in the clue's case)."""
    return f"alert-{alert_id}-readings"


def open_alert_clue(
    session: Session,
    *,
    settings: Settings,
    principal: Principal,
    case: Case,
    alert: Alert,
    readings: Sequence[Reading],
    now: datetime,
) -> int:
    """Open the alert's clue, attach its readings; return the clue's case id."""
    first = next((r for r in readings if r.lat is not None and r.lon is not None), None)
    place = {"lat": first.lat, "lon": first.lon} if first and first.lat is not None and first.lon is not None else None
    clue = open_clue(
        session,
        principal=principal,
        unit_id=case.unit_id,
        source=SOURCE,
        title=clue_title(alert),
        description=clue_description(case, alert),
        domain=case.domain,
        case_type=case.type,
        place=place,
        platform=None,
        reference=f"alert-{alert.id}",
        now=now,
    )
    _attach(session, settings=settings, principal=principal, case_id=clue.case_id, alert=alert, readings=readings)
    return clue.case_id


def _labels(alert: Alert) -> tuple[str, str, str, str]:
    """Pollutant, grade, period and limit as Chinese text."""
    standard = STANDARDS.get(alert.standard)
    grade = standard.grade_label(alert.grade, "zh") if standard else alert.grade
    limit = alert.limit
    if limit.get("bound") == "range":
        bound = f"{limit.get('low')}–{limit.get('high')}"
    else:
        bound = format_amount(_number(limit.get("value")), str(limit.get("unit", "")), "zh")
    return str(limit.get("pollutant_zh") or alert.code), grade, AVERAGING.get(alert.averaging, ("", ""))[0], bound


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def clue_title(alert: Alert) -> str:
    pollutant, grade, period, _ = _labels(alert)
    return f"自动预警：{alert.device} {pollutant} {alert.code} 超过 {alert.standard} {grade} {period}限值"


def clue_description(case: Case, alert: Alert) -> str:
    pollutant, grade, period, bound = _labels(alert)
    value = format_amount(alert.value, str(alert.limit.get("unit", "")), "zh")
    ratio = f"，为限值的 {alert.ratio:.2f} 倍" if alert.ratio is not None else ""
    return (
        f"案件 {case.number} 的设备 {alert.device} 自 {_local(alert.started_at)} 至 {_local(alert.last_at)} "
        f"共 {alert.episode_readings} 个读数的{pollutant} {alert.code} 超过 {alert.standard} {grade} "
        f"{period}限值 {bound}；最高值 {value}{ratio}（预警编号 {alert.id}）。{INDICATIVE_ZH}。"
    )


def _local(moment: datetime | None) -> str:
    return moment.astimezone(CHINA_TIME).isoformat(timespec="seconds") if moment else "?"


def readings_document(session: Session, alert: Alert, readings: Sequence[Reading]) -> bytes:
    """The canonical JSON of the episode's readings (each with its source item and that item's SHA-256)."""
    sources = {r.item_id: session.get(Item, r.item_id) for r in readings}
    document = {
        "format": FORMAT,
        "indicative": True,
        "note_zh": INDICATIVE_ZH,
        "note_en": "indicative early warning, not a legal monitoring determination",
        "alert": {
            "id": alert.id,
            "code": alert.code,
            "device": alert.device,
            "kind": alert.kind,
            "standard": alert.standard,
            "grade": alert.grade,
            "averaging": alert.averaging,
            "limit": alert.limit,
        },
        "readings": [_reading_json(r, sources[r.item_id]) for r in readings],
    }
    return canonical_bytes(document)


def _reading_json(reading: Reading, source: Item | None) -> dict[str, Any]:
    return {
        "reading_id": reading.id,
        "device": reading.device,
        "code": reading.code,
        "kind": reading.kind,
        "value": reading.value,
        "unit": reading.unit,
        "flag": reading.flag,
        "measured_at": reading.measured_at.isoformat(),
        "time_source": reading.time_source,
        "position": reading.position(),
        "source_item": reading.item_id,
        "source_sha256": source.sha256 if source else None,
    }


def _attach(
    session: Session,
    *,
    settings: Settings,
    principal: Principal,
    case_id: int,
    alert: Alert,
    readings: Sequence[Reading],
) -> Item:
    """Register the readings document in the clue's case (its bytes are the server's own: see the module doc)."""
    data = readings_document(session, alert, readings)
    body = RegisterItem(
        item_id=readings_item_id(alert.id),
        case_id=case_id,
        sha256=hashlib.sha256(data).hexdigest(),
        kind="document",
        media_type="application/json",
        name=f"{readings_item_id(alert.id)}.json",
    )
    return register_server_document(session, settings=settings, principal=principal, body=body, data=data)
