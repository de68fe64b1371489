"""``POST /readings`` (batches), ``GET /cases/{id}/readings``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from server.api import Moment, Page, paginate
from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId, PageParams
from server.cases.schemas import NO_NUL
from server.cases.service import visible_case
from server.devices.auth import SigningDeviceKey
from server.errors import FORBIDDEN, JSON_BODY, PAGED, SIGNED_IN, errors
from server.readings.models import Reading
from server.readings.schemas import BatchResult, ReadingBatch, ReadingOut
from server.readings.service import store_batch

router = APIRouter(tags=["readings"], responses=SIGNED_IN)


@router.post(
    "/readings",
    response_model=BatchResult,
    summary="Store a batch of readings derived from a registered sensor-batch item (resending is harmless)",
    responses=errors(
        JSON_BODY,
        FORBIDDEN,
        {404: "no such item (or not one of your units)", 422: "an item that is not a sensor-batch"},
    ),
)
def post_readings(
    batch: ReadingBatch,
    request: Request,
    principal: Annotated[Principal, Depends(require("readings.write"))],
    _device: SigningDeviceKey,
) -> BatchResult:
    settings = request.app.state.settings
    return store_batch(session_of(request), settings=settings, principal=principal, batch=batch, now=datetime.now(UTC))


def reading_out(reading: Reading) -> ReadingOut:
    return ReadingOut(
        id=reading.id,
        item_id=reading.item_id,
        device=reading.device,
        code=reading.code,
        kind=reading.kind,
        value=reading.value,
        unit=reading.unit,
        flag=reading.flag,
        measured_at=reading.measured_at,
        time_source=reading.time_source,
        position=reading.position(),
    )


@router.get(
    "/cases/{case_id}/readings",
    response_model=Page[ReadingOut],
    summary="A case's readings, filtered",
    responses=errors(NO_CASE, PAGED),
)
def case_readings(
    case_id: CaseId,
    request: Request,
    principal: Annotated[Principal, Depends(require("readings.read"))],
    page: PageParams,
    *,
    code: Annotated[
        str | None, Query(max_length=32, pattern=NO_NUL, description="only this pollutant or channel code")
    ] = None,
    device: Annotated[str | None, Query(max_length=100, pattern=NO_NUL, description="only this device")] = None,
    since: Annotated[Moment | None, Query(alias="from", description="measured at or after")] = None,
    until: Annotated[Moment | None, Query(description="measured at or before")] = None,
) -> Page[ReadingOut]:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    query = select(Reading).where(Reading.case_id == case.id)
    if code:
        query = query.where(Reading.code == code)
    if device:
        query = query.where(Reading.device == device)
    if since:
        query = query.where(Reading.measured_at >= since)
    if until:
        query = query.where(Reading.measured_at <= until)
    return paginate(session, query, Reading.id, page, reading_out)
