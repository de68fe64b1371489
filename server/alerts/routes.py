"""``GET /cases/{id}/alerts`` and ``GET /alerts``: exceedance alerts, one per episode (indicative)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.alerts.clue import readings_item_id
from server.alerts.models import Alert
from server.api import MAX_ID, Moment, Page, paginate
from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId, PageParams
from server.cases.schemas import NO_NUL
from server.cases.service import visible_case
from server.errors import PAGED, SIGNED_IN, errors
from server.items.models import Item
from server.readings.schemas import AlertOut
from server.units.models import Unit

router = APIRouter(tags=["alerts"], responses=SIGNED_IN)
Reader = Annotated[Principal, Depends(require("readings.read"))]


def alert_out(session: Session, alert: Alert) -> AlertOut:
    attached = session.get(Item, readings_item_id(alert.id))
    return AlertOut(
        id=alert.id,
        case_id=alert.case_id,
        reading_id=alert.reading_id,
        device=alert.device,
        code=alert.code,
        kind=alert.kind,
        standard=alert.standard,
        grade=alert.grade,
        averaging=alert.averaging,
        value=alert.value,
        ratio=alert.ratio,
        limit=dict(alert.limit),
        message_zh=alert.message_zh,
        message_en=alert.message_en,
        started_at=alert.started_at,
        last_at=alert.last_at,
        last_reading_id=alert.last_reading_id,
        peak_reading_id=alert.peak_reading_id,
        episode_readings=alert.episode_readings,
        clue_case_id=attached.case_id if attached is not None else None,
        created_at=alert.created_at,
    )


@router.get(
    "/cases/{case_id}/alerts",
    response_model=Page[AlertOut],
    summary="A case's exceedance alerts, one per episode (indicative: a spot reading is not a legal determination)",
    responses=errors(NO_CASE, PAGED),
)
def case_alerts(case_id: CaseId, request: Request, principal: Reader, page: PageParams) -> Page[AlertOut]:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    query = select(Alert).where(Alert.case_id == case.id)
    return paginate(session, query, Alert.id, page, lambda alert: alert_out(session, alert))


@router.get(
    "/alerts",
    response_model=Page[AlertOut],
    summary="The exceedance alerts of your units, filtered (indicative)",
    responses=errors(PAGED, {404: "no such case (the case filter names none of your units' cases)"}),
)
def list_alerts(
    request: Request,
    principal: Reader,
    page: PageParams,
    *,
    case: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this case's alerts (id)")] = None,
    unit: Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description="only this unit's (code)")] = None,
    code: Annotated[str | None, Query(max_length=32, pattern=NO_NUL, description="only this pollutant code")] = None,
    device: Annotated[str | None, Query(max_length=100, pattern=NO_NUL, description="only this device")] = None,
    standard: Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description="e.g. GB 3095-2012")] = None,
    since: Annotated[Moment | None, Query(alias="from", description="raised at or after")] = None,
    until: Annotated[Moment | None, Query(description="raised at or before")] = None,
) -> Page[AlertOut]:
    session = session_of(request)
    query = select(Alert).where(Alert.unit_id.in_(sorted(principal.visible_units)))
    if case is not None:  # a case you do not see answers 404, as everywhere
        query = query.where(Alert.case_id == visible_case(session, principal=principal, case_id=case).id)
    for column, wanted in (
        (Alert.code, code),
        (Alert.device, device),
        (Alert.standard, standard),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    if unit is not None:
        query = query.where(Alert.unit_id.in_(select(Unit.id).where(Unit.code == unit)))
    if since is not None:
        query = query.where(Alert.created_at >= since)
    if until is not None:
        query = query.where(Alert.created_at <= until)
    return paginate(session, query, Alert.id, page, lambda alert: alert_out(session, alert))
