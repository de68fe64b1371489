"""visits: API routes. ``GET|POST /cases/{case_id}/visits``, ``GET /cases/{case_id}/visits/{visit_id}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from server.api import Page, idempotent, paginate, with_etag
from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId, IdempotencyKey, PageParams, Reader
from server.cases.service import visible_case
from server.errors import FORBIDDEN, IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, errors
from server.visits import service
from server.visits.models import Visit
from server.visits.schemas import VisitIn, VisitOut

router = APIRouter(tags=["visits"], responses=SIGNED_IN)

VisitId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the visit's id")]


@router.get(
    "/cases/{case_id}/visits",
    response_model=Page[VisitOut],
    summary="The visits of a case",
    responses=errors(NO_CASE, PAGED),
)
def list_visits(case_id: CaseId, request: Request, principal: Reader, page: PageParams) -> Page[VisitOut]:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    return paginate(session, service.visits_query(case), Visit.id, page, service.render_visit)


@router.post(
    "/cases/{case_id}/visits",
    status_code=201,
    response_model=VisitOut,
    summary="Record a visit to a site of a case: time range, at least two investigators, devices used",
    responses=errors(
        NO_CASE,
        JSON_BODY,
        IDEMPOTENT,
        FORBIDDEN,
        {
            409: "the case is closed",
            422: "fewer than two investigators, someone not an investigator of the unit, a bad site",
        },
    ),
)
def create_visit(
    case_id: CaseId,
    data: VisitIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("visits.write"))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    session = session_of(request)

    def create() -> tuple[int, Any]:
        now = datetime.now(UTC)
        visit = service.create_visit(session, principal=principal, case_id=case_id, data=data, now=now)
        return 201, service.render_visit(visit).model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), data.model_dump(mode="json"), create)


@router.get(
    "/cases/{case_id}/visits/{visit_id}",
    response_model=VisitOut,
    summary="One visit of a case (and an ETag)",
    responses=errors({404: "no such case or visit (or not one of your units)"}),
)
def get_visit(case_id: CaseId, visit_id: VisitId, request: Request, response: Response, principal: Reader) -> VisitOut:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    out = service.render_visit(service.visit_of_case(session, case=case, visit_id=visit_id))
    with_etag(response, out)
    return out
