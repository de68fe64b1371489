"""Deadlines: 2 calendar months (month ends clamp: Dec 31 → Feb 28/29), 15 days when urgent, 30 days for a civil
notice, counted on China's calendar; met when the case moves on; the overdue list shows visible cases only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from server.cases import service
from server.cases.deadlines import CHINA_TIME, add_months, due, end_of, is_overdue, local_date
from server.cases.schemas import CaseIn
from tests.server.conftest import World
from tests.server.test_cases_support import API, ROUTE, case_at, in_session, move, principal_of


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2027, 12, 30), 2, date(2028, 2, 29)),
        (date(2026, 12, 29), 2, date(2027, 2, 28)),
        (date(2026, 12, 28), 2, date(2027, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 8, 31), 2, date(2026, 10, 31)),
        (date(2026, 7, 31), 2, date(2026, 9, 30)),
        (date(2026, 11, 30), 2, date(2027, 1, 30)),
        (date(2026, 3, 15), 2, date(2026, 5, 15)),
        (date(2026, 11, 1), 2, date(2027, 1, 1)),
        (date(2026, 5, 20), 0, date(2026, 5, 20)),
        (date(2026, 5, 20), 24, date(2028, 5, 20)),
    ],
)
def test_calendar_months_clamp_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TIME)


@pytest.mark.parametrize(
    ("case_type", "urgent", "started", "kind", "due_date"),
    [
        ("administrative", False, cst(2026, 12, 31, 10), "reply", date(2027, 2, 28)),
        ("administrative", False, cst(2027, 12, 31, 10), "reply", date(2028, 2, 29)),
        ("administrative", False, cst(2026, 3, 2, 0, 0), "reply", date(2026, 5, 2)),
        ("administrative", True, cst(2026, 12, 31, 10), "reply", date(2027, 1, 15)),
        ("administrative", True, cst(2026, 2, 20, 23, 59), "reply", date(2026, 3, 7)),
        ("civil", False, cst(2026, 12, 31, 10), "notice", date(2027, 1, 30)),
        ("civil", True, cst(2026, 1, 1, 8), "notice", date(2026, 1, 31)),
        ("civil", False, cst(2028, 2, 1, 8), "notice", date(2028, 3, 2)),
    ],
)
def test_due_dates(case_type: str, urgent: bool, started: datetime, kind: str, due_date: date) -> None:
    period = due(case_type=case_type, urgent=urgent, started_at=started)
    assert (period.kind, period.due_date) == (kind, due_date)
    assert period.due_at == datetime.combine(due_date + timedelta(days=1), datetime.min.time(), CHINA_TIME)
    assert period.due_at.tzinfo == UTC


def test_periods_are_counted_on_chinas_calendar_not_utc() -> None:
    new_year_in_china = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 01:00 on 2027-01-01 in China
    assert local_date(new_year_in_china) == date(2027, 1, 1)
    assert due(case_type="administrative", urgent=False, started_at=new_year_in_china).due_date == date(2027, 3, 1)
    assert end_of(date(2027, 2, 28)) == datetime(2027, 2, 28, 16, 0, tzinfo=UTC)


def test_overdue_means_expired_and_not_met() -> None:
    due_at = datetime(2027, 2, 28, 16, 0, tzinfo=UTC)
    second = timedelta(seconds=1)
    assert not is_overdue(due_at=due_at, met_at=None, now=due_at - second)
    assert is_overdue(due_at=due_at, met_at=None, now=due_at)
    assert not is_overdue(due_at=due_at, met_at=due_at + second, now=due_at + timedelta(days=9))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)))
def test_any_start_gets_periods_of_the_right_length(started: datetime) -> None:
    start = local_date(started)
    months = due(case_type="administrative", urgent=False, started_at=started).due_date
    assert (months.year * 12 + months.month) - (start.year * 12 + start.month) == 2
    assert months.day == start.day or (months.day < start.day and (months + timedelta(days=1)).day == 1)
    assert 59 <= (months - start).days <= 62
    assert (due(case_type="administrative", urgent=True, started_at=started).due_date - start).days == 15
    assert (due(case_type="civil", urgent=False, started_at=started).due_date - start).days == 30


def test_entering_recommendation_starts_the_deadline_and_moving_on_meets_it(client: TestClient, world: World) -> None:
    plain = case_at(client, world, "recommendation")
    urgent = case_at(client, world, "recommendation", urgent=True)
    civil = case_at(client, world, "recommendation", type="civil")
    for case, kind, days in ((plain, "reply", None), (urgent, "reply", 15), (civil, "notice", 30)):
        [deadline] = case["deadlines"]
        started = datetime.fromisoformat(deadline["started_at"])
        expected = due(case_type=case["type"], urgent=case["urgent"], started_at=started)
        assert (deadline["kind"], deadline["met_at"], deadline["overdue"]) == (kind, None, False)
        assert deadline["due_date"] == expected.due_date.isoformat()
        assert datetime.fromisoformat(deadline["due_at"]) == expected.due_at
        if days is not None:
            assert (expected.due_date - local_date(started)).days == days
    followed = move(client, world, plain["id"], "follow-up")
    assert followed["deadlines"][0]["met_at"] is not None
    again = move(client, world, plain["id"], "recommendation")
    assert [d["met_at"] is None for d in again["deadlines"]] == [False, True]
    closed = move(client, world, again["id"], "closed")
    assert all(d["met_at"] is not None for d in closed["deadlines"])
    assert case_at(client, world, "litigation")["deadlines"][0]["met_at"] is not None


def test_urgency_set_later_does_not_change_a_running_deadline(client: TestClient, world: World) -> None:
    case = case_at(client, world, "recommendation")
    patched = client.patch(
        f"{API}/cases/{case['id']}", json={"urgent": True}, headers=world.headers("LY-YC/prosecutor")
    )
    assert patched.json()["deadlines"] == case["deadlines"]


def _back_dated(client: TestClient, username: str, *, case_type: str, urgent: bool, entered_days_ago: int) -> int:
    """A case whose recommendation stage was entered ``entered_days_ago`` days ago (through the services)."""
    entered = datetime.now(UTC) - timedelta(days=entered_days_ago)
    with in_session(client) as session:
        principal = principal_of(session, username)
        data = CaseIn(title="逾期测试", domain="land", type=case_type, urgent=urgent)  # type: ignore[arg-type]
        case = service.create_case(session, principal=principal, data=data, now=entered - timedelta(days=5))
        for stage in ROUTE["recommendation"]:
            service.transition_case(session, principal=principal, case_id=case.id, to=stage, note=None, now=entered)
        return case.id


def test_the_overdue_list(client: TestClient, world: World) -> None:
    late = _back_dated(client, "ly-yc-prosecutor", case_type="administrative", urgent=False, entered_days_ago=92)
    in_time = _back_dated(client, "ly-yc-prosecutor", case_type="administrative", urgent=True, entered_days_ago=10)
    urgent_late = _back_dated(client, "ly-yc-prosecutor", case_type="administrative", urgent=True, entered_days_ago=20)
    notice_over = _back_dated(client, "ly-yc-prosecutor", case_type="civil", urgent=False, entered_days_ago=31)
    notice_running = _back_dated(client, "ly-yc-prosecutor", case_type="civil", urgent=False, entered_days_ago=28)
    answered = _back_dated(client, "ly-yc-prosecutor", case_type="administrative", urgent=False, entered_days_ago=92)
    move(client, world, answered, "follow-up")
    county = _back_dated(client, "ly-sx-prosecutor", case_type="administrative", urgent=False, entered_days_ago=70)

    def overdue(who: str, **params: str) -> list[int]:
        answer = client.get(f"{API}/cases/overdue", params=params, headers=world.headers(who))
        assert answer.status_code == 200, answer.text
        return [case["id"] for case in answer.json()["items"]]

    assert overdue("LY-YC/investigator") == [late, urgent_late, notice_over]
    assert overdue("LY/integration") == [late, urgent_late, notice_over, county]
    assert overdue("LY/prosecutor", unit="LY-SX") == [county]
    assert overdue("LY/prosecutor", type="civil") == [notice_over]
    assert overdue("LY-SX/evidence_officer") == [county]
    assert overdue("LY-YC/prosecutor", limit="1") == [late]
    shown = client.get(f"{API}/cases/{late}", headers=world.headers("LY-YC/prosecutor")).json()
    assert [(d["kind"], d["overdue"]) for d in shown["deadlines"]] == [("reply", True)]
    for running in (in_time, notice_running, answered):
        shown = client.get(f"{API}/cases/{running}", headers=world.headers("LY-YC/prosecutor")).json()
        assert [d["overdue"] for d in shown["deadlines"]] == [False], running
