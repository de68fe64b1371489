"""Deadlines of a case, as data and pure date arithmetic (no I/O).

Entering ``recommendation`` starts one deadline:

- an **administrative** case's pre-litigation recommendation (诉前检察建议) must be answered in writing within
  **2 calendar months**, or **15 days** when the case is marked urgent: kind ``reply``;
- a **civil** case publishes a **30-day** notice (公告) before the procuratorate may sue: kind ``notice``.

Periods are counted on the calendar of China Standard Time (UTC+8, no daylight saving since 1991), the way
procedural periods are: the day the period starts is not counted, the period ends at 24:00 of its last day
(``due_date``), and a month-based period ends on the same day of the month, or on the month's last day when the
month is shorter (started Dec 31 → due Feb 28, or Feb 29 in a leap year). ``due_at`` is that end as a UTC
instant: 00:00 China time of the day after ``due_date``. A deadline is met when the case moves on from the stage;
it is overdue when ``due_at`` has passed and it was not met.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final, Literal

CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
DeadlineKind = Literal["reply", "notice"]


@dataclass(frozen=True)
class DeadlineRule:
    """How long a deadline runs: whole calendar months or days, and why."""

    kind: DeadlineKind
    months: int = 0
    days: int = 0
    basis: str = ""


RULES: Final[dict[tuple[str, bool], DeadlineRule]] = {
    ("administrative", False): DeadlineRule("reply", months=2, basis="诉前检察建议: written reply within 2 months"),
    ("administrative", True): DeadlineRule("reply", days=15, basis="诉前检察建议, urgent: reply within 15 days"),
    ("civil", False): DeadlineRule("notice", days=30, basis="民事公益诉讼公告: 30-day notice"),
    ("civil", True): DeadlineRule(
        "notice", days=30, basis="民事公益诉讼公告: 30-day notice (urgency does not shorten)"
    ),
}


@dataclass(frozen=True)
class Due:
    """A computed deadline: its kind, its last day (China time) and the instant it expires (UTC)."""

    kind: DeadlineKind
    due_date: date
    due_at: datetime


def rule_for(*, case_type: str, urgent: bool) -> DeadlineRule:
    """The rule for a case of ``case_type`` entering ``recommendation``."""
    return RULES[(case_type, urgent)]


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, on the month's last day when the month is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def local_date(moment: datetime) -> date:
    """The calendar day in China of an aware instant."""
    return moment.astimezone(CHINA_TIME).date()


def end_of(day: date) -> datetime:
    """The instant (UTC) a period whose last day is ``day`` expires: 24:00 China time."""
    return datetime.combine(day + timedelta(days=1), time(0), CHINA_TIME).astimezone(UTC)


def due(*, case_type: str, urgent: bool, started_at: datetime) -> Due:
    """The deadline started at ``started_at`` (aware) for a case of ``case_type`` entering ``recommendation``."""
    rule = rule_for(case_type=case_type, urgent=urgent)
    start = local_date(started_at)
    last_day = add_months(start, rule.months) + timedelta(days=rule.days)
    return Due(kind=rule.kind, due_date=last_day, due_at=end_of(last_day))


def is_overdue(*, due_at: datetime, met_at: datetime | None, now: datetime) -> bool:
    """Overdue: the period expired and the case did not move on in time (or at all)."""
    return met_at is None and now >= due_at
