"""campaign: counting the cases, recommendations, evidence and exceedances of the units a principal sees.

The period is whole days of China time, ``start`` inclusive to ``end`` exclusive (UTC instants); without ``from``
or ``to`` it is open on that side. Each count is of cases or events *in the period*, attributed to the case's unit
and filtered by the case's domain:

- ``cases``, ``by_domain``, ``by_stage``, ``clues_received``: cases created in the period (by current stage);
  every case begins as a clue, so clues received are those cases, whether submitted through ``POST /clues`` or
  opened by hand;
- ``recommendations_issued``: transitions into ``recommendation`` in the period (a further recommendation after
  follow-up counts again);
- ``recommendations_answered``: reply/notice deadlines met in the period (the case moved on from the stage);
- ``recommendations_overdue``: deadlines started in the period and overdue at ``now`` (``deadlines.is_overdue``);
- ``items_collected``: original items (not derivatives) registered in the period; ``items_verified``: those of
  them with at least one ``verified`` custody event in the log;
- ``exceedances``: exceedance alerts created in the period.

Reads only; ``now`` is passed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from evidence.custody import CustodyEvent
from server.alerts.models import Alert
from server.auth import Principal
from server.campaign.schemas import CampaignFilters, CampaignOut, Counts, UnitCounts
from server.cases import deadlines
from server.cases.models import Case, CaseTransition, Deadline
from server.cases.schemas import DOMAINS
from server.cases.workflow import STAGES
from server.errors import ApiError
from server.items.models import Item
from server.ledger.models import LogEntry
from server.units.models import Unit

_VERIFIED = b'"verified"'  # canonical event bytes of a verification contain it; parsed before being counted
_SCALARS = (
    "clues_received",
    "recommendations_issued",
    "recommendations_answered",
    "recommendations_overdue",
    "items_collected",
    "items_verified",
    "exceedances",
)


@dataclass(frozen=True)
class Period:
    """Whole days of China time as UTC instants: ``start`` inclusive, ``end`` exclusive; None is open."""

    first: date | None
    last: date | None

    @property
    def start(self) -> datetime | None:
        return None if self.first is None else datetime.combine(self.first, time(0), deadlines.CHINA_TIME)

    @property
    def end(self) -> datetime | None:
        return None if self.last is None else deadlines.end_of(self.last)

    def covers(self, column: Any) -> list[ColumnElement[bool]]:
        """Conditions that ``column`` (a UTC instant) falls in the period."""
        conditions: list[ColumnElement[bool]] = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return conditions


def period(first: date | None, last: date | None) -> Period:
    """The period, or 422 when it is backwards or beyond the years an instant can hold."""
    for name, day in (("from", first), ("to", last)):
        if day is not None and not 1 < day.year < 9999:
            raise ApiError(422, f"{name} is out of range: its year must be 2 to 9998", code="invalid_period")
    if first is not None and last is not None and first > last:
        raise ApiError(422, "from is after to", code="invalid_period")
    return Period(first, last)


def units_in_scope(session: Session, *, principal: Principal, code: str | None) -> list[Unit]:
    """The units the principal sees (by code), or the one named; an unseen unit reads like an unknown one: 422."""
    units = session.scalars(select(Unit).where(Unit.id.in_(sorted(principal.visible_units))).order_by(Unit.code))
    seen = list(units)
    if code is None:
        return seen
    named = [unit for unit in seen if unit.code == code]
    if not named:
        raise ApiError(422, f"unit {code} is not one of your units", code="invalid_unit")
    return named


def campaign(
    session: Session, *, units: list[Unit], span: Period, domain: str | None, unit: str | None, now: datetime
) -> CampaignOut:
    """The counts of ``units`` over ``span`` (cases of ``domain`` only, if given), judged at ``now``."""
    scope = Scope(ids=[u.id for u in units], domain=domain)
    rows = {u.id: _empty() for u in units}
    _count_cases(session, scope, span, rows)
    _add(rows, "recommendations_issued", session.execute(_issued(scope, span)))
    _add(rows, "recommendations_answered", session.execute(_answered(scope, span)))
    _add(rows, "recommendations_overdue", _overdue(session, scope, span, now).items())
    collected = session.execute(_collected(scope, span)).all()
    _add(rows, "items_collected", Counter(unit_id for _item, unit_id in collected).items())
    verified = _verified(session, [item for item, _unit in collected])
    _add(rows, "items_verified", Counter(unit_id for item, unit_id in collected if item in verified).items())
    _add(rows, "exceedances", session.execute(_exceedances(scope, span)))
    per_unit = [UnitCounts(unit=u.code, name=u.name, **rows[u.id]) for u in units]
    filters = CampaignFilters.model_validate({"from": span.first, "to": span.last, "domain": domain, "unit": unit})
    return CampaignOut(filters=filters, totals=_total(rows.values()), units=per_unit)


@dataclass(frozen=True)
class Scope:
    """The cases counted: of these units, of this domain if given."""

    ids: list[int]
    domain: str | None

    def cases(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Case.unit_id.in_(self.ids)]
        if self.domain is not None:
            conditions.append(Case.domain == self.domain)
        return conditions


def _empty() -> dict[str, Any]:
    counts: dict[str, Any] = dict.fromkeys(_SCALARS, 0)
    counts.update(cases=0, by_domain=dict.fromkeys(DOMAINS, 0), by_stage=dict.fromkeys(STAGES, 0))
    return counts


def _add(rows: dict[int, dict[str, Any]], name: str, pairs: Iterable[Any]) -> None:
    for unit_id, count in pairs:
        rows[unit_id][name] += count


def _count_cases(session: Session, scope: Scope, span: Period, rows: dict[int, dict[str, Any]]) -> None:
    query = (
        select(Case.unit_id, Case.domain, Case.stage, func.count())
        .where(*scope.cases(), *span.covers(Case.created_at))
        .group_by(Case.unit_id, Case.domain, Case.stage)
    )
    for unit_id, domain, stage, count in session.execute(query):
        row = rows[unit_id]
        row["cases"] += count
        row["clues_received"] += count
        row["by_domain"][domain] = row["by_domain"].get(domain, 0) + count
        row["by_stage"][stage] = row["by_stage"].get(stage, 0) + count


def _issued(scope: Scope, span: Period) -> Select[int, int]:
    return (
        select(Case.unit_id, func.count())
        .join(CaseTransition, CaseTransition.case_id == Case.id)
        .where(*scope.cases(), CaseTransition.to_stage == "recommendation", *span.covers(CaseTransition.at))
        .group_by(Case.unit_id)
    )


def _answered(scope: Scope, span: Period) -> Select[int, int]:
    return (
        select(Case.unit_id, func.count())
        .join(Deadline, Deadline.case_id == Case.id)
        .where(*scope.cases(), Deadline.met_at.is_not(None), *span.covers(Deadline.met_at))
        .group_by(Case.unit_id)
    )


def _overdue(session: Session, scope: Scope, span: Period, now: datetime) -> Counter[int]:
    """Deadlines started in the period that are overdue at ``now``, judged as everywhere else (``is_overdue``)."""
    query = (
        select(Case.unit_id, Deadline.due_at, Deadline.met_at)
        .join(Deadline, Deadline.case_id == Case.id)
        .where(*scope.cases(), Deadline.met_at.is_(None), *span.covers(Deadline.started_at))
    )
    late = Counter[int]()
    for unit_id, due_at, met_at in session.execute(query):
        if deadlines.is_overdue(due_at=due_at, met_at=met_at, now=now):
            late[unit_id] += 1
    return late


def _collected(scope: Scope, span: Period) -> Select[str, int]:
    return (
        select(Item.id, Case.unit_id)
        .join(Case, Item.case_id == Case.id)
        .where(*scope.cases(), Item.derived_from.is_(None), *span.covers(Item.registered_at))
    )


def _verified(session: Session, item_ids: list[str]) -> set[str]:
    """The items among ``item_ids`` with at least one ``verified`` custody event in the log."""
    found: set[str] = set()
    for chunk in (item_ids[i : i + 500] for i in range(0, len(item_ids), 500)):
        entries = session.execute(select(LogEntry.item_id, LogEntry.event).where(LogEntry.item_id.in_(chunk)))
        for item_id, event in entries:
            if item_id not in found and _VERIFIED in bytes(event) and _is_verification(bytes(event)):
                found.add(item_id)
    return found


def _is_verification(event: bytes) -> bool:
    return CustodyEvent.from_bytes(event).action == "verified"


def _exceedances(scope: Scope, span: Period) -> Select[int, int]:
    return (
        select(Case.unit_id, func.count())
        .join(Alert, Alert.case_id == Case.id)
        .where(*scope.cases(), *span.covers(Alert.created_at))
        .group_by(Case.unit_id)
    )


def _total(rows: Iterable[dict[str, Any]]) -> Counts:
    total = _empty()
    for row in rows:
        for name in ("cases", *_SCALARS):
            total[name] += row[name]
        for group in ("by_domain", "by_stage"):
            for key, count in row[group].items():
                total[group][key] = total[group].get(key, 0) + count
    return Counts(**total)
