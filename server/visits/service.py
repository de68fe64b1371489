"""visits: recording and finding the visits of a case (services take keyword-only arguments and flush)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.auth import Principal
from server.cases.models import Case
from server.cases.service import require_open, visible_case
from server.errors import ApiError, not_found
from server.sites.models import Site
from server.users.models import User
from server.visits.models import Visit, VisitDevice
from server.visits.schemas import VisitIn, VisitOut

INVESTIGATOR_ROLES: Final = frozenset({"investigator", "prosecutor"})
MIN_INVESTIGATORS: Final = 2


def create_visit(session: Session, *, principal: Principal, case_id: int, data: VisitIn, now: datetime) -> Visit:
    """A visit to a site of a visible, open case by at least two investigators of the case's unit."""
    case = visible_case(session, principal=principal, case_id=case_id)
    require_open(case)
    _check_site(session, case=case, site_id=data.site)
    investigators = _investigators(session, case=case, usernames=data.investigators)
    visit = Visit(
        case_id=case.id,
        site_id=data.site,
        started_at=data.started_at.astimezone(UTC),
        ended_at=data.ended_at.astimezone(UTC),
        note=data.note,
        created_at=now,
        created_by=principal.user_id,
        investigators=investigators,
        devices=[VisitDevice(device_id=device) for device in _distinct(data.devices)],
    )
    session.add(visit)
    session.flush()
    return visit


def _check_site(session: Session, *, case: Case, site_id: int) -> None:
    site = session.get(Site, site_id)
    if site is None or site.case_id != case.id:
        raise ApiError(422, f"site {site_id} is not a site of case {case.number}", code="invalid_site")


def _investigators(session: Session, *, case: Case, usernames: list[str]) -> list[User]:
    """The users named, each an active investigator or prosecutor of the case's unit; at least two distinct."""
    names = _distinct(usernames)
    if len(names) < MIN_INVESTIGATORS:
        raise ApiError(
            422,
            f"a visit needs at least {MIN_INVESTIGATORS} distinct investigators (electronic data is collected by two)",
            code="too_few_investigators",
            investigators=names,
        )
    users = {user.username: user for user in session.scalars(select(User).where(User.username.in_(names)))}
    refused = [name for name in names if not _may_investigate(users.get(name), case)]
    if refused:
        raise ApiError(
            422,
            f"not active investigators or prosecutors of the case's unit: {', '.join(refused)}",
            code="invalid_investigators",
            refused=refused,
        )
    return [users[name] for name in names]


def _may_investigate(user: User | None, case: Case) -> bool:
    return user is not None and user.active and user.unit_id == case.unit_id and user.role in INVESTIGATOR_ROLES


def _distinct(values: list[str]) -> list[str]:
    """``values`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(values))


def visits_query(case: Case) -> Select[Visit]:
    """The visits of ``case``."""
    return select(Visit).where(Visit.case_id == case.id)


def visit_of_case(session: Session, *, case: Case, visit_id: int) -> Visit:
    """The visit if it belongs to ``case``; else 404."""
    visit = session.get(Visit, visit_id)
    if visit is None or visit.case_id != case.id:
        raise not_found("visit")
    return visit


def render_visit(visit: Visit) -> VisitOut:
    return VisitOut(
        id=visit.id,
        case=visit.case_id,
        site=visit.site_id,
        started_at=visit.started_at,
        ended_at=visit.ended_at,
        investigators=sorted(user.username for user in visit.investigators),
        devices=sorted(device.device_id for device in visit.devices),
        note=visit.note,
        created_at=visit.created_at,
        created_by=visit.creator.username,
    )
