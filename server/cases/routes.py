"""cases: API routes.

``GET|POST /cases``, ``GET /cases/overdue``, ``GET|PATCH /cases/{case_id}``,
``GET|POST /cases/{case_id}/transitions``. A case of a unit the caller does not see answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from server.api import Page, check_if_match, etag_of, idempotent, page_params, paginate, with_etag
from server.auth import Principal, require, session_of
from server.cases import service
from server.cases.models import Case, CaseTransition
from server.cases.schemas import NO_NUL, CaseIn, CaseOut, CasePatch, CaseType, Domain, TransitionIn, TransitionOut
from server.cases.workflow import Stage
from server.errors import FORBIDDEN, IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, Responses, errors

router = APIRouter(tags=["cases"], responses=SIGNED_IN)

CaseId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the case's id")]
PageParams = Annotated[tuple[int, int | None], Depends(page_params)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="repeat-safe creation: same key → same answer")
]
Reader = Annotated[Principal, Depends(require("cases.read"))]
NO_CASE = {404: "no such case (or not one of your units)"}
ERRORS: Responses = errors(NO_CASE)


class CaseFilters:
    """The list filters shared by ``GET /cases`` and ``GET /cases/overdue``."""

    def __init__(
        self,
        stage: Annotated[Stage | None, Query(description="only cases in this stage")] = None,
        domain: Annotated[Domain | None, Query(description="only cases of this domain")] = None,
        type: Annotated[CaseType | None, Query(description="administrative or civil")] = None,
        unit: Annotated[
            str | None, Query(max_length=64, pattern=NO_NUL, description="only cases of this unit (code)")
        ] = None,
    ) -> None:
        self.values = {"stage": stage, "domain": domain, "case_type": type, "unit": unit}


Filters = Annotated[CaseFilters, Depends()]


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/cases", response_model=Page[CaseOut], summary="List the cases of your units", responses=errors(PAGED))
def list_cases(request: Request, principal: Reader, filters: Filters, page: PageParams) -> Page[CaseOut]:
    now = _now()
    query = service.case_query(principal, **filters.values)
    return paginate(session_of(request), query, Case.id, page, lambda case: service.render_case(case, now=now))


@router.get(
    "/cases/overdue",
    response_model=Page[CaseOut],
    summary="List your units' cases with an overdue deadline (reply or notice period expired, not met)",
    responses=errors(PAGED),
)
def list_overdue(request: Request, principal: Reader, filters: Filters, page: PageParams) -> Page[CaseOut]:
    now = _now()
    query = service.overdue_only(service.case_query(principal, **filters.values), now=now)
    return paginate(session_of(request), query, Case.id, page, lambda case: service.render_case(case, now=now))


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOut,
    summary="Open a case (stage clue) in your unit, or in a unit under it",
    responses=errors(JSON_BODY, IDEMPOTENT, FORBIDDEN, {422: "a unit you may not create cases for (invalid_unit)"}),
)
def create_case(
    data: CaseIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("cases.write"))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    session = session_of(request)

    def create() -> tuple[int, Any]:
        now = _now()
        case = service.create_case(session, principal=principal, data=data, now=now)
        return 201, service.render_case(case, now=now).model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), data.model_dump(mode="json"), create)


@router.get(
    "/cases/{case_id}", response_model=CaseOut, summary="One case, with its deadlines (and an ETag)", responses=ERRORS
)
def get_case(case_id: CaseId, request: Request, response: Response, principal: Reader) -> CaseOut:
    case = service.visible_case(session_of(request), principal=principal, case_id=case_id)
    out = service.render_case(case, now=_now())
    with_etag(response, out)
    return out


@router.patch(
    "/cases/{case_id}",
    response_model=CaseOut,
    summary="Change a case's title, description, urgent flag, domain, limits or auto_clue (If-Match: its ETag)",
    responses=errors(NO_CASE, JSON_BODY, FORBIDDEN, {412: "If-Match does not match the case's current ETag"}),
)
def patch_case(
    *,
    case_id: CaseId,
    changes: CasePatch,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("cases.write"))],
    if_match: Annotated[str | None, Header(alias="If-Match", description="the ETag you read")] = None,
) -> CaseOut:
    session, now = session_of(request), _now()
    case = service.visible_case(session, principal=principal, case_id=case_id, lock=True)
    check_if_match(request, etag_of(service.render_case(case, now=now)))
    service.update_case(session, case=case, changes=changes.model_dump(exclude_unset=True))
    out = service.render_case(case, now=now)
    with_etag(response, out)
    return out


@router.post(
    "/cases/{case_id}/transitions",
    response_model=CaseOut,
    summary="Move a case to another stage (recorded with who, when and the note)",
    responses=errors(
        NO_CASE,
        JSON_BODY,
        IDEMPOTENT,
        FORBIDDEN,
        {
            409: "the workflow does not allow it (details.allowed lists the stages it does)",
            422: "closing without a reason (reason_required)",
        },
    ),
)
def transition_case(
    case_id: CaseId,
    data: TransitionIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("cases.transition"))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    session = session_of(request)

    def move() -> tuple[int, Any]:
        now = _now()
        case = service.transition_case(
            session, principal=principal, case_id=case_id, to=data.to, note=data.note, now=now
        )
        return 200, service.render_case(case, now=now).model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), data.model_dump(mode="json"), move)


@router.get(
    "/cases/{case_id}/transitions",
    response_model=Page[TransitionOut],
    summary="The case's stage changes, oldest first",
    responses=errors(NO_CASE, PAGED),
)
def list_transitions(case_id: CaseId, request: Request, principal: Reader, page: PageParams) -> Page[TransitionOut]:
    session = session_of(request)
    case = service.visible_case(session, principal=principal, case_id=case_id)
    query = service.transitions_query(case)
    return paginate(session, query, CaseTransition.id, page, service.render_transition)
