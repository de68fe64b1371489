"""``GET /cases/{id}/alerts``: exceedances of national limits among the case's readings (indicative)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from server.alerts.models import Alert
from server.api import Page, paginate
from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId, PageParams
from server.cases.service import visible_case
from server.errors import PAGED, SIGNED_IN, errors
from server.readings.schemas import AlertOut

router = APIRouter(tags=["alerts"], responses=SIGNED_IN)


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        reading_id=alert.reading_id,
        code=alert.code,
        standard=alert.standard,
        grade=alert.grade,
        averaging=alert.averaging,
        value=alert.value,
        ratio=alert.ratio,
        limit=dict(alert.limit),
        message_zh=alert.message_zh,
        message_en=alert.message_en,
        created_at=alert.created_at,
    )


@router.get(
    "/cases/{case_id}/alerts",
    response_model=Page[AlertOut],
    summary="A case's exceedance alerts (indicative: a spot reading is not a legal determination)",
    responses=errors(NO_CASE, PAGED),
)
def case_alerts(
    case_id: CaseId,
    request: Request,
    principal: Annotated[Principal, Depends(require("readings.read"))],
    page: PageParams,
) -> Page[AlertOut]:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    return paginate(session, select(Alert).where(Alert.case_id == case.id), Alert.id, page, alert_out)
