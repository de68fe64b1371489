"""sites: adding and finding the sites of a case (services take keyword-only arguments and flush)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.auth import Principal
from server.cases.models import Case
from server.cases.service import require_open, visible_case
from server.errors import ApiError, not_found
from server.sites.geo import GeofenceError, parse_geofence
from server.sites.models import Site
from server.sites.schemas import Centroid, SiteIn, SiteOut


def create_site(session: Session, *, principal: Principal, case_id: int, data: SiteIn, now: datetime) -> Site:
    """A new site of a visible, open case; an unusable geofence is refused (422) with the reason."""
    case = visible_case(session, principal=principal, case_id=case_id)
    require_open(case)
    try:
        fence = parse_geofence(data.geofence)
    except GeofenceError as exc:
        raise ApiError(
            422, f"the geofence is refused: {exc.reason}", code="invalid_geofence", reason=exc.reason
        ) from exc
    lat, lon = fence.centroid
    site = Site(
        case_id=case.id,
        name=data.name,
        address=data.address,
        description=data.description,
        geofence=fence.geojson,
        centroid_lat=lat,
        centroid_lon=lon,
        area_m2=fence.area_m2,
        created_at=now,
        created_by=principal.user_id,
    )
    session.add(site)
    session.flush()
    return site


def sites_query(case: Case) -> Select[Site]:
    """The sites of ``case``."""
    return select(Site).where(Site.case_id == case.id)


def site_of_case(session: Session, *, case: Case, site_id: int) -> Site:
    """The site if it belongs to ``case``; else 404."""
    site = session.get(Site, site_id)
    if site is None or site.case_id != case.id:
        raise not_found("site")
    return site


def visible_site(session: Session, *, principal: Principal, site_id: int) -> Site:
    """A site by id alone, if its case is visible to the principal; else 404 (for other domains' use)."""
    site = session.get(Site, site_id)
    if site is None:
        raise not_found("site")
    case = session.get(Case, site.case_id)
    if case is None or not principal.sees(case.unit_id):
        raise not_found("site")
    return site


def render_site(site: Site) -> SiteOut:
    return SiteOut(
        id=site.id,
        case=site.case_id,
        name=site.name,
        address=site.address,
        description=site.description,
        geofence=site.geofence,
        centroid=Centroid(lat=site.centroid_lat, lon=site.centroid_lon),
        area_m2=site.area_m2,
        created_at=site.created_at,
        created_by=site.creator.username,
    )
