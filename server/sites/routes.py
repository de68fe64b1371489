"""sites: API routes. ``GET|POST /cases/{case_id}/sites``, ``GET /cases/{case_id}/sites/{site_id}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from server.api import Page, idempotent, paginate, with_etag
from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId, IdempotencyKey, PageParams, Reader
from server.cases.service import visible_case
from server.errors import FORBIDDEN, IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, errors
from server.sites import service
from server.sites.models import Site
from server.sites.schemas import SiteIn, SiteOut

router = APIRouter(tags=["sites"], responses=SIGNED_IN)

SiteId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the site's id")]


@router.get(
    "/cases/{case_id}/sites",
    response_model=Page[SiteOut],
    summary="The sites of a case",
    responses=errors(NO_CASE, PAGED),
)
def list_sites(case_id: CaseId, request: Request, principal: Reader, page: PageParams) -> Page[SiteOut]:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    return paginate(session, service.sites_query(case), Site.id, page, service.render_site)


@router.post(
    "/cases/{case_id}/sites",
    status_code=201,
    response_model=SiteOut,
    summary="Add a site, fenced by a GeoJSON polygon, to a case",
    responses=errors(
        NO_CASE,
        JSON_BODY,
        IDEMPOTENT,
        FORBIDDEN,
        {409: "the case is closed", 422: "an unusable geofence (invalid_geofence, with details.reason)"},
    ),
)
def create_site(
    case_id: CaseId,
    data: SiteIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("sites.write"))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    session = session_of(request)

    def create() -> tuple[int, Any]:
        now = datetime.now(UTC)
        site = service.create_site(session, principal=principal, case_id=case_id, data=data, now=now)
        return 201, service.render_site(site).model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), data.model_dump(mode="json"), create)


@router.get(
    "/cases/{case_id}/sites/{site_id}",
    response_model=SiteOut,
    summary="One site of a case (and an ETag)",
    responses=errors({404: "no such case or site (or not one of your units)"}),
)
def get_site(case_id: CaseId, site_id: SiteId, request: Request, response: Response, principal: Reader) -> SiteOut:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    out = service.render_site(service.site_of_case(session, case=case, site_id=site_id))
    with_etag(response, out)
    return out
