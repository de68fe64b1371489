"""cases: creating, finding, changing and moving cases through their stages.

Services take keyword-only arguments, flush, and never commit (the request scope does). ``now`` is passed in,
never read from the clock here, so deadlines can be computed for any instant. Unit isolation lives in
``visible_case`` and ``case_query``: a case of a unit the principal does not see is *not found*, never forbidden.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.auth import Principal
from server.cases import deadlines
from server.cases.models import Case, CaseCounter, CaseTransition, Deadline
from server.cases.schemas import CaseIn, CaseOut, DeadlineOut, TransitionOut
from server.cases.workflow import CLOSED, FIRST_STAGE, is_allowed, needs_reason, next_stages
from server.errors import ApiError, not_found
from server.units.models import Unit
from server.webhooks.service import emit


def visible_case(session: Session, *, principal: Principal, case_id: int, lock: bool = False) -> Case:
    """The case, if the principal's units include its unit; else 404 (its existence is not revealed)."""
    case = session.get(Case, case_id, with_for_update=lock or None)
    if case is None or not principal.sees(case.unit_id):
        raise not_found("case")
    return case


def require_open(case: Case) -> None:
    """409 when the case is closed: nothing more is added to a closed case."""
    if case.stage == CLOSED:
        raise ApiError(409, f"case {case.number} is closed", code="case_closed")


def create_case(session: Session, *, principal: Principal, data: CaseIn, now: datetime) -> Case:
    """A new case in stage ``clue``, numbered within its unit and year."""
    unit = _target_unit(session, principal=principal, code=data.unit)
    case = Case(
        number=_next_number(session, unit=unit, now=now),
        title=data.title,
        description=data.description,
        domain=data.domain,
        type=data.type,
        urgent=data.urgent,
        stage=FIRST_STAGE,
        unit_id=unit.id,
        created_at=now,
        created_by=principal.user_id,
        stage_changed_at=now,
        limits=[choice.model_dump() for choice in data.limits],
        auto_clue=data.auto_clue,
    )
    session.add(case)
    session.flush()
    return case


def _target_unit(session: Session, *, principal: Principal, code: str | None) -> Unit:
    """The caller's unit, or the named one if the caller sees it (an unseen unit reads like an unknown one)."""
    if code is None:
        unit = session.get(Unit, principal.unit_id)
    else:
        unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or not principal.sees(unit.id):
        raise ApiError(422, f"unit {code} is not one you may create cases for", code="invalid_unit")
    return unit


def _next_number(session: Session, *, unit: Unit, now: datetime) -> str:
    """``UNIT-YEAR-NNNN``: the next number of the unit in the (China) year of ``now``."""
    year = deadlines.local_date(now).year
    return f"{unit.code}-{year}-{_next_sequence(session, unit_id=unit.id, year=year):04d}"


def _next_sequence(session: Session, *, unit_id: int, year: int) -> int:
    """Take the next sequence number under a row lock; the first case of a year creates the counter."""
    key = (unit_id, year)
    counter = session.get(CaseCounter, key, with_for_update=True)
    if counter is None:
        try:
            with session.begin_nested():
                session.add(CaseCounter(unit_id=unit_id, year=year, last=0))
        except IntegrityError:
            pass  # another request created it first: lock theirs
        counter = session.get(CaseCounter, key, with_for_update=True, populate_existing=True)
        if counter is None:  # pragma: no cover - the row exists after either branch
            raise ApiError(503, "could not number the case; try again")
    counter.last += 1
    session.flush()
    return counter.last


def case_query(
    principal: Principal,
    *,
    stage: str | None = None,
    domain: str | None = None,
    case_type: str | None = None,
    unit: str | None = None,
) -> Select[Case]:
    """The visible cases, optionally filtered."""
    query = select(Case).where(Case.unit_id.in_(sorted(principal.visible_units)))
    if stage is not None:
        query = query.where(Case.stage == stage)
    if domain is not None:
        query = query.where(Case.domain == domain)
    if case_type is not None:
        query = query.where(Case.type == case_type)
    if unit is not None:
        query = query.where(Case.unit_id.in_(select(Unit.id).where(Unit.code == unit)))
    return query


def overdue_only(query: Select[Case], *, now: datetime) -> Select[Case]:
    """Narrow ``query`` to cases with a deadline that expired before ``now`` and was not met."""
    late = select(Deadline.case_id).where(Deadline.met_at.is_(None), Deadline.due_at <= now)
    return query.where(Case.id.in_(late))


def update_case(session: Session, *, case: Case, changes: dict[str, Any]) -> Case:
    """Apply the given fields (already validated: title, description, urgent, domain, limits, auto_clue); a closed
    case is final."""
    require_open(case)
    for name, value in changes.items():
        setattr(case, name, value)
    session.flush()
    return case


def transition_case(
    session: Session, *, principal: Principal, case_id: int, to: str, note: str | None, now: datetime
) -> Case:
    """Move the case to ``to`` if the workflow allows it: record who and when, meet and start deadlines."""
    case = visible_case(session, principal=principal, case_id=case_id, lock=True)
    _check_transition(case, to=to, note=note)
    session.add(
        CaseTransition(
            case_id=case.id, from_stage=case.stage, to_stage=to, user_id=principal.user_id, at=now, note=note or None
        )
    )
    _meet_open_deadlines(case, now=now)
    changed = {"case_id": case.id, "case": case.number, "from": case.stage, "to": to, "at": now}
    case.stage, case.stage_changed_at = to, now
    if to == "recommendation":
        _start_deadline(session, case=case, now=now)
    session.flush()
    emit(session, unit_id=case.unit_id, event_type="case.stage_changed", data=changed)
    return case


def _check_transition(case: Case, *, to: str, note: str | None) -> None:
    """409 with the allowed next stages when the workflow refuses; 422 when closing without a reason."""
    if not is_allowed(case.stage, to):
        allowed = list(next_stages(case.stage))
        raise ApiError(
            409,
            f"a case in stage {case.stage} cannot move to {to}; allowed: {', '.join(allowed) or 'none'}",
            code="transition_refused",
            **{"from": case.stage, "to": to, "allowed": allowed},
        )
    if needs_reason(to) and not note:
        raise ApiError(422, "closing a case needs a reason: give it in note", code="reason_required")


def _meet_open_deadlines(case: Case, *, now: datetime) -> None:
    for deadline in case.deadlines:
        if deadline.met_at is None:
            deadline.met_at = now


def _start_deadline(session: Session, *, case: Case, now: datetime) -> None:
    period = deadlines.due(case_type=case.type, urgent=case.urgent, started_at=now)
    deadline = Deadline(
        kind=period.kind, stage=case.stage, started_at=now, due_date=period.due_date, due_at=period.due_at
    )
    case.deadlines.append(deadline)
    session.add(deadline)


def transitions_query(case: Case) -> Select[CaseTransition]:
    """The case's recorded transitions."""
    return select(CaseTransition).where(CaseTransition.case_id == case.id)


def render_case(case: Case, *, now: datetime) -> CaseOut:
    """The case's JSON, with deadlines judged at ``now``."""
    return CaseOut(
        id=case.id,
        number=case.number,
        title=case.title,
        description=case.description,
        domain=case.domain,  # type: ignore[arg-type]  # validated on the way in
        type=case.type,  # type: ignore[arg-type]
        urgent=case.urgent,
        stage=case.stage,  # type: ignore[arg-type]
        next_stages=list(next_stages(case.stage)),
        unit=case.unit.code,
        created_at=case.created_at,
        created_by=case.creator.username,
        deadlines=[_render_deadline(deadline, now=now) for deadline in case.deadlines],
        limits=case.limits,  # type: ignore[arg-type]  # validated on the way in
        auto_clue=case.auto_clue,
    )


def _render_deadline(deadline: Deadline, *, now: datetime) -> DeadlineOut:
    met_at = deadline.met_at if deadline.met_at is not None else None
    due_at = deadline.due_at
    return DeadlineOut(
        kind=deadline.kind,  # type: ignore[arg-type]
        started_at=deadline.started_at,
        due_date=deadline.due_date,
        due_at=due_at,
        met_at=met_at,
        overdue=deadlines.is_overdue(due_at=due_at, met_at=met_at, now=now),
    )


def render_transition(transition: CaseTransition) -> TransitionOut:
    return TransitionOut.of(
        id=transition.id,
        from_stage=transition.from_stage,
        to=transition.to_stage,
        at=transition.at,
        by=transition.user.username,
        note=transition.note,
    )
