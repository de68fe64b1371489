"""clues: API routes.

``POST /clues`` (submit), ``GET /clues`` (list, filtered), ``GET /clues/{clue_id}`` (with an ETag),
``POST /clues/{clue_id}/accept`` and ``POST /clues/{clue_id}/dismiss``. A clue of a unit the caller does not see
answers 404. Attachments are evidence items of the clue's case: upload (tus) and register them (``POST /items``
with the answer's ``case_id``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from server.api import Page, idempotent, paginate, with_etag
from server.auth import Principal, require, session_of
from server.cases.routes import IdempotencyKey, PageParams
from server.cases.schemas import NO_NUL, Domain
from server.clues import service
from server.clues.models import Clue
from server.clues.schemas import AcceptIn, ClueIn, ClueOut, ClueSource, ClueStatus, DismissIn
from server.errors import FORBIDDEN, IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, errors

router = APIRouter(tags=["clues"], responses=SIGNED_IN)

ClueId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the clue's id")]
Reader = Annotated[Principal, Depends(require("cases.read"))]
Decider = Annotated[Principal, Depends(require("cases.transition"))]
NO_CLUE = {404: "no such clue (or not one of your units)"}
DECIDED = {409: "the clue was accepted or dismissed already (clue_decided)"}


class ClueFilters:
    def __init__(
        self,
        status: Annotated[ClueStatus | None, Query(description="pending, accepted or dismissed")] = None,
        source: Annotated[ClueSource | None, Query(description="only clues from this source")] = None,
        domain: Annotated[Domain | None, Query(description="only clues of this domain")] = None,
        unit: Annotated[
            str | None, Query(max_length=64, pattern=NO_NUL, description="only clues of this unit (code)")
        ] = None,
    ) -> None:
        self.values = {"status": status, "source": source, "domain": domain, "unit": unit}


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/clues",
    status_code=201,
    response_model=ClueOut,
    summary="Submit a clue: it opens a case at stage clue, to which its evidence is attached",
    responses=errors(
        JSON_BODY,
        IDEMPOTENT,
        FORBIDDEN,
        {409: "you submitted a clue with this reference already (clue_exists; details.clue_id)"},
        {422: "a unit you may not submit clues for (invalid_unit)"},
    ),
)
def submit_clue(
    data: ClueIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("clues.write"))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    session = session_of(request)

    def create() -> tuple[int, Any]:
        clue = service.submit_clue(session, principal=principal, data=data, now=_now())
        return 201, service.render_clue(session, clue).model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), data.model_dump(mode="json"), create)


@router.get(
    "/clues", response_model=Page[ClueOut], summary="List the clues of your units, filtered", responses=errors(PAGED)
)
def list_clues(
    request: Request, principal: Reader, filters: Annotated[ClueFilters, Depends()], page: PageParams
) -> Page[ClueOut]:
    session = session_of(request)
    query = service.clue_query(principal, **filters.values)
    return paginate(session, query, Clue.id, page, lambda clue: service.render_clue(session, clue))


@router.get(
    "/clues/{clue_id}",
    response_model=ClueOut,
    summary="One clue, with its status and decision (and an ETag)",
    responses=errors(NO_CLUE),
)
def get_clue(clue_id: ClueId, request: Request, response: Response, principal: Reader) -> ClueOut:
    session = session_of(request)
    out = service.render_clue(session, service.visible_clue(session, principal=principal, clue_id=clue_id))
    with_etag(response, out)
    return out


@router.post(
    "/clues/{clue_id}/accept",
    response_model=ClueOut,
    summary="Accept a clue: its case is filed (立案)",
    responses=errors(NO_CLUE, JSON_BODY, IDEMPOTENT, FORBIDDEN, DECIDED),
)
def accept_clue(
    clue_id: ClueId, data: AcceptIn, request: Request, principal: Decider, idempotency_key: IdempotencyKey = None
) -> Response:
    return _decide(request, principal, clue_id, accept=True, note=data.note, payload=data.model_dump(mode="json"))


@router.post(
    "/clues/{clue_id}/dismiss",
    response_model=ClueOut,
    summary="Dismiss a clue, with the reason: its case is closed",
    responses=errors(NO_CLUE, JSON_BODY, IDEMPOTENT, FORBIDDEN, DECIDED),
)
def dismiss_clue(
    clue_id: ClueId, data: DismissIn, request: Request, principal: Decider, idempotency_key: IdempotencyKey = None
) -> Response:
    return _decide(request, principal, clue_id, accept=False, note=data.reason, payload=data.model_dump(mode="json"))


def _decide(
    request: Request, principal: Principal, clue_id: int, *, accept: bool, note: str | None, payload: Any
) -> Response:
    session = session_of(request)

    def decide() -> tuple[int, Any]:
        clue = service.decide(session, principal=principal, clue_id=clue_id, accept=accept, note=note, now=_now())
        return 200, service.render_clue(session, clue).model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), payload, decide)
