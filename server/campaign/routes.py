"""campaign: API routes.

``GET /campaign`` (JSON, with a strong ETag; ``If-None-Match`` answers 304), ``GET /campaign.csv`` and
``GET /campaign/report`` (printable HTML, or PDF with ``format=pdf``): the same numbers, the same filters.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator

from server.api import etag_of
from server.auth import Principal, require, session_of
from server.campaign import render, service
from server.campaign.schemas import CampaignOut
from server.cases.schemas import NO_NUL, Domain
from server.errors import FORBIDDEN, SIGNED_IN, Responses, errors
from server.units.models import Unit

router = APIRouter(tags=["campaign"], responses=SIGNED_IN)

Reader = Annotated[Principal, Depends(require("campaign.read"))]
ERRORS: Responses = errors(
    FORBIDDEN, {422: "from after to, a year out of range (invalid_period), or a unit you do not see (invalid_unit)"}
)
CSV_TYPE = "text/csv; charset=utf-8"
PDF_TYPE = "application/pdf"


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic would otherwise read a number (``to=0``) as a Unix timestamp."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("a day as YYYY-MM-DD is required, e.g. 2026-05-12")


Day = Annotated[date, BeforeValidator(_iso_day)]


class CampaignQuery:
    """The filters of every campaign route."""

    def __init__(
        self,
        from_: Annotated[
            Day | None, Query(alias="from", description="first day, China time (YYYY-MM-DD), inclusive")
        ] = None,
        to: Annotated[Day | None, Query(description="last day, China time (YYYY-MM-DD), inclusive")] = None,
        domain: Annotated[Domain | None, Query(description="only cases of this domain")] = None,
        unit: Annotated[
            str | None,
            Query(max_length=64, pattern=NO_NUL, description="only this unit (a code among the units you see)"),
        ] = None,
    ) -> None:
        self.first, self.last, self.domain, self.unit = from_, to, domain, unit


Filters = Annotated[CampaignQuery, Depends()]


def _campaign(request: Request, principal: Principal, filters: CampaignQuery) -> CampaignOut:
    session = session_of(request)
    span = service.period(filters.first, filters.last)
    units = service.units_in_scope(session, principal=principal, code=filters.unit)
    return service.campaign(
        session, units=units, span=span, domain=filters.domain, unit=filters.unit, now=datetime.now(UTC)
    )


@router.get(
    "/campaign",
    response_model=CampaignOut,
    summary="The campaign: cases, recommendations, evidence and exceedances of your units (with an ETag)",
    responses={**ERRORS, 304: {"description": "If-None-Match names the current ETag: nothing changed"}},
)
def get_campaign(
    request: Request,
    principal: Reader,
    filters: Filters,
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", max_length=2000, description="the ETag you have")
    ] = None,
) -> Response:
    out = _campaign(request, principal, filters)
    tag = etag_of(out)
    if if_none_match is not None and ({t.strip() for t in if_none_match.split(",")} & {tag, "*"}):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(out.model_dump_json(by_alias=True).encode(), media_type="application/json", headers={"ETag": tag})


@router.get(
    "/campaign.csv",
    response_class=Response,
    summary="The campaign as CSV (UTF-8 with BOM, for Excel): one row per unit, then the totals",
    responses={**ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}},
)
def campaign_csv(request: Request, principal: Reader, filters: Filters) -> Response:
    out = _campaign(request, principal, filters)
    headers = {"Content-Disposition": f'attachment; filename="{_file_name(out)}.csv"'}
    return Response(render.render_csv(out), media_type=CSV_TYPE, headers=headers)


@router.get(
    "/campaign/report",
    response_class=Response,
    summary="The campaign as a printable report: HTML with print styles (Chinese first), or PDF",
    responses={
        **ERRORS,
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}, PDF_TYPE: {"schema": {"type": "string"}}},
            "description": "the report",
        },
    },
)
def campaign_report(
    request: Request,
    principal: Reader,
    filters: Filters,
    format: Annotated[Literal["html", "pdf"], Query(description="html (default) or pdf")] = "html",
) -> Response:
    out = _campaign(request, principal, filters)
    title = f"{_title_unit(request, principal, out)}公益诉讼专项活动统计"
    now = datetime.now(UTC)
    if format == "pdf":
        headers = {"Content-Disposition": f'inline; filename="{_file_name(out)}.pdf"'}
        return Response(render.render_pdf(out, title=title, generated_at=now), media_type=PDF_TYPE, headers=headers)
    headers = {"Content-Disposition": f'inline; filename="{_file_name(out)}.html"'}
    return HTMLResponse(render.render_html(out, title=title, generated_at=now), headers=headers)


def _title_unit(request: Request, principal: Principal, out: CampaignOut) -> str:
    """The name of the one unit asked about, or of the caller's unit."""
    if out.filters.unit is not None and out.units:
        return out.units[0].name
    unit = session_of(request).get(Unit, principal.unit_id)
    return unit.name if unit is not None else ""


def _file_name(out: CampaignOut) -> str:
    """``campaign-<unit or all>[-from][-to]``, in characters any Content-Disposition can carry."""
    parts = ["campaign", out.filters.unit or "all"]
    parts += [day.isoformat() for day in (out.filters.from_, out.filters.to) if day is not None]
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))
