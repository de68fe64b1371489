"""How an item is shown: its stored facts, plus its geofence status computed against the case's sites now.

The geofence is computed when shown, not stored: items are insert-only evidence, while a site's boundary may be
drawn after the evidence was collected. An item placed outside every site of its case is flagged, never refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.items.models import Item
from server.items.schemas import Geofence, ItemOut
from server.sites.geo import GeofenceError, geofence_check
from server.sites.models import Site
from server.users.models import User
from server.visits.models import Visit


def item_out(session: Session, item: Item) -> ItemOut:
    user = session.get(User, item.registered_by)
    return ItemOut(
        id=item.id,
        case_id=item.case_id,
        kind=item.kind,
        sha256=item.sha256,
        size=item.size,
        media_type=item.media_type,
        name=item.name,
        captured_at=captured_at(item),
        time_source=item.time_source,
        clock_offset_s=item.clock_offset_s,
        location=location_of(item),
        geofence=geofence_of(session, item),
        log_index=item.received_index,
        device_key_id=item.device_key_id,
        visit_id=item.visit_id,
        derived_from=item.derived_from,
        collected_by=list(item.collected_by or []),
        registered_by=user.username if user else "",
        registered_at=item.registered_at,
    )


def captured_at(item: Item) -> datetime | None:
    """The capture moment in the zone it was given in (a camera's local time reads best as it was)."""
    if item.captured_at is None or not item.captured_offset:
        return item.captured_at
    sign = -1 if item.captured_offset.startswith("-") else 1
    hours, minutes = item.captured_offset[1:].split(":")
    return item.captured_at.astimezone(timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))))


def location_of(item: Item) -> dict[str, Any] | None:
    if item.lat is None or item.lon is None:
        return None
    return {
        "lat": item.lat,
        "lon": item.lon,
        "alt": item.alt,
        "accuracy_m": item.accuracy_m,
        "source": item.location_source,
        "fix_age_s": item.fix_age_s,
    }


def geofence_of(session: Session, item: Item) -> Geofence:
    """Inside or outside the site of the item's visit, else the nearest of its case's sites; unknown without both."""
    if item.lat is None or item.lon is None:
        return Geofence(status="unknown", distance_m=None, site_id=None)
    sites = _candidate_sites(session, item)
    if not sites:
        return Geofence(status="unknown", distance_m=None, site_id=None)
    try:
        results = [(geofence_check(site.geofence, item.lat, item.lon), site.id) for site in sites]
    except GeofenceError:
        return Geofence(status="unknown", distance_m=None, site_id=None)
    best, site_id = min(results, key=lambda pair: float(pair[0]["distance_m"]))
    status = "inside" if best["inside"] else "outside"
    return Geofence(status=status, distance_m=round(float(best["distance_m"]), 1), site_id=site_id)


def _candidate_sites(session: Session, item: Item) -> list[Site]:
    if item.visit_id is not None:
        visit = session.get(Visit, item.visit_id)
        if visit is not None and visit.site_id is not None:
            site = session.get(Site, visit.site_id)
            return [site] if site is not None else []
    return list(session.scalars(select(Site).where(Site.case_id == item.case_id)))
