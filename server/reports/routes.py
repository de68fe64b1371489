"""Case-level evidence work: ``POST /cases/{id}/verify`` and ``GET /cases/{id}/package`` (a court package, zip)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select
from starlette.background import BackgroundTask

from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId
from server.cases.service import visible_case
from server.errors import FORBIDDEN, SIGNED_IN, errors
from server.items.models import Item
from server.items.schemas import Verification
from server.items.verify import verification
from server.ledger import service as ledger
from server.reports.export import export_case

router = APIRouter(tags=["cases"], responses=SIGNED_IN)


class CaseVerification(BaseModel):
    case_id: int
    valid: bool
    items: list[Verification]
    log_problems: list[str]


@router.post(
    "/cases/{case_id}/verify",
    response_model=CaseVerification,
    summary="Check every item of the case again, and the log itself",
    responses=errors(NO_CASE, FORBIDDEN),
)
def verify_case(
    case_id: CaseId, request: Request, principal: Annotated[Principal, Depends(require("items.verify"))]
) -> CaseVerification:
    session = session_of(request)
    settings = request.app.state.settings
    case = visible_case(session, principal=principal, case_id=case_id)
    items = session.scalars(select(Item).where(Item.case_id == case.id).order_by(Item.seq_no))
    results = [verification(session, settings, item) for item in items]
    problems = ledger.verify_log(session)
    return CaseVerification(
        case_id=case.id, valid=all(r.valid for r in results) and not problems, items=results, log_problems=problems
    )


@router.get(
    "/cases/{case_id}/package",
    response_class=FileResponse,
    summary="The case as a court package (zip) that `fieldproof verify` checks offline; recorded in custody",
    responses=errors(
        NO_CASE, FORBIDDEN, {409: "the case has no items, or an item's bytes cannot be read from the store"}
    ),
)
def case_package(
    case_id: CaseId, request: Request, principal: Annotated[Principal, Depends(require("cases.export"))]
) -> FileResponse:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    path = export_case(session, settings=request.app.state.settings, principal=principal, case=case)
    return FileResponse(
        path, media_type="application/zip", filename=path.name, background=BackgroundTask(path.unlink, missing_ok=True)
    )
