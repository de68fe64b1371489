"""Clues: submitting (by people, case systems, platforms and early warning), finding, accepting and dismissing.

A clue opens a case at stage ``clue`` (numbered like any case) plus its insert-only ``clues`` row. Its status is
read from the case's transitions, never stored: *pending* while the case is at ``clue``; *accepted* once it moved
``clue → filed``; *dismissed* once it moved ``clue → closed`` (the reason is the transition's note). An
integration client may attach evidence only to the pending clues it submitted itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from server.auth import Principal
from server.cases import service as cases
from server.cases.models import Case, CaseTransition
from server.cases.schemas import CaseIn
from server.cases.workflow import CLOSED, FIRST_STAGE
from server.clues.models import Clue
from server.clues.schemas import ClueIn, ClueOut, DecisionOut, PlaceIn
from server.errors import ApiError, not_found
from server.items.models import Item
from server.units.models import Unit

ACCEPTED_STAGE = "filed"


def submit_clue(session: Session, *, principal: Principal, data: ClueIn, now: datetime) -> Clue:
    """A clue from the API: a new case at stage clue in the caller's unit (or the one named under it)."""
    case_in = CaseIn(
        title=data.title,
        domain=data.domain,
        type=data.type,
        description=data.description,
        urgent=data.urgent,
        unit=data.unit,
    )
    return _new_clue(
        session,
        principal=principal,
        case_in=case_in,
        source=data.source,
        platform=data.platform,
        reference=data.reference,
        place=data.place.model_dump() if data.place else None,
        now=now,
    )


def open_clue(
    session: Session,
    *,
    principal: Principal,
    unit_id: int,
    source: str,
    title: str,
    description: str | None,
    domain: str,
    case_type: str,
    place: dict[str, Any] | None,
    platform: str | None,
    reference: str | None,
    now: datetime,
) -> Clue:
    """A clue raised by the server itself (early warning) on behalf of ``principal``, in unit ``unit_id``."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise not_found("unit")
    case_in = CaseIn.model_validate(
        {"title": title[:300], "domain": domain, "type": case_type, "description": description, "unit": unit.code}
    )
    return _new_clue(
        session,
        principal=principal,
        case_in=case_in,
        source=source,
        platform=platform,
        reference=reference,
        place=place,
        now=now,
    )


def _new_clue(
    session: Session,
    *,
    principal: Principal,
    case_in: CaseIn,
    source: str,
    platform: str | None,
    reference: str | None,
    place: dict[str, Any] | None,
    now: datetime,
) -> Clue:
    _refuse_resubmission(session, principal=principal, reference=reference)
    case = cases.create_case(session, principal=principal, data=case_in, now=now)
    place = place or {}
    clue = Clue(
        case_id=case.id,
        unit_id=case.unit_id,
        source=source,
        platform=platform,
        reference=reference,
        place_name=place.get("name"),
        lat=place.get("lat"),
        lon=place.get("lon"),
        submitted_by=principal.user_id,
        submitted_at=now,
    )
    session.add(clue)
    session.flush()
    return clue


def _refuse_resubmission(session: Session, *, principal: Principal, reference: str | None) -> None:
    if reference is None:
        return
    earlier = session.scalar(select(Clue).where(Clue.submitted_by == principal.user_id, Clue.reference == reference))
    if earlier is not None:
        raise ApiError(409, f"you submitted the clue {reference} already", code="clue_exists", clue_id=earlier.id)


def visible_clue(session: Session, *, principal: Principal, clue_id: int) -> Clue:
    """The clue, if the principal sees its unit; else 404."""
    clue = session.get(Clue, clue_id)
    if clue is None or not principal.sees(clue.unit_id):
        raise not_found("clue")
    return clue


def clue_query(
    principal: Principal,
    *,
    status: str | None = None,
    source: str | None = None,
    domain: str | None = None,
    unit: str | None = None,
) -> Select[Clue]:
    """The visible clues, optionally filtered."""
    query = select(Clue).join(Case, Clue.case_id == Case.id).where(Clue.unit_id.in_(sorted(principal.visible_units)))
    if status is not None:
        query = query.where(_status_is(status))
    if source is not None:
        query = query.where(Clue.source == source)
    if domain is not None:
        query = query.where(Case.domain == domain)
    if unit is not None:
        query = query.where(Clue.unit_id.in_(select(Unit.id).where(Unit.code == unit)))
    return query


def _status_is(status: str) -> Any:
    if status == "pending":
        return Case.stage == FIRST_STAGE
    moved_to = CLOSED if status == "dismissed" else ACCEPTED_STAGE
    return exists().where(
        CaseTransition.case_id == Clue.case_id,
        CaseTransition.from_stage == FIRST_STAGE,
        CaseTransition.to_stage == moved_to,
    )


def decide(
    session: Session, *, principal: Principal, clue_id: int, accept: bool, note: str | None, now: datetime
) -> Clue:
    """Accept (``clue → filed``) or dismiss (``clue → closed``, ``note`` the reason) a pending clue."""
    clue = visible_clue(session, principal=principal, clue_id=clue_id)
    cases.visible_case(session, principal=principal, case_id=clue.case_id, lock=True)
    if clue.case.stage != FIRST_STAGE:
        raise ApiError(
            409, f"clue {clue.id} was decided already (its case is at {clue.case.stage})", code="clue_decided"
        )
    to = ACCEPTED_STAGE if accept else CLOSED
    cases.transition_case(session, principal=principal, case_id=clue.case_id, to=to, note=note, now=now)
    return clue


def require_attachable(session: Session, *, principal: Principal, case: Case) -> None:
    """An integration client attaches evidence only to the pending clues it submitted (403 otherwise)."""
    if principal.role != "integration":
        return
    submitted = session.scalar(select(Clue.id).where(Clue.case_id == case.id, Clue.submitted_by == principal.user_id))
    if submitted is None or case.stage != FIRST_STAGE:
        raise ApiError(
            403,
            "an integration client attaches evidence only to the pending clues it submitted",
            code="not_your_clue",
        )


def render_clue(session: Session, clue: Clue) -> ClueOut:
    case = clue.case
    decision = session.scalar(
        select(CaseTransition)
        .where(CaseTransition.case_id == case.id, CaseTransition.from_stage == FIRST_STAGE)
        .order_by(CaseTransition.id)
        .limit(1)
    )
    has_place = clue.place_name is not None or clue.lat is not None
    items = session.scalar(select(func.count()).select_from(Item).where(Item.case_id == case.id)) or 0
    return ClueOut(
        id=clue.id,
        case_id=case.id,
        case_number=case.number,
        unit=case.unit.code,
        title=case.title,
        description=case.description,
        domain=case.domain,  # type: ignore[arg-type]  # validated on the way in
        type=case.type,  # type: ignore[arg-type]
        source=clue.source,  # type: ignore[arg-type]
        platform=clue.platform,
        reference=clue.reference,
        place=PlaceIn(name=clue.place_name, lat=clue.lat, lon=clue.lon) if has_place else None,
        status=_status_of(decision),
        decision=_decision_out(decision),
        stage=case.stage,
        items=items,
        submitted_by=clue.submitter.username,
        submitted_at=clue.submitted_at,
    )


def _status_of(decision: CaseTransition | None) -> Any:
    if decision is None:
        return "pending"
    return "dismissed" if decision.to_stage == CLOSED else "accepted"


def _decision_out(decision: CaseTransition | None) -> DecisionOut | None:
    if decision is None:
        return None
    return DecisionOut(at=decision.at, by=decision.user.username, note=decision.note)
