"""The stage workflow: every (from, to) pair allowed or refused, as the table and through the API; transitions
recorded with who, when and the note, in a table that refuses UPDATE and DELETE."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from server.cases.workflow import STAGES, TRANSITIONS, is_allowed, needs_reason, next_stages
from tests.server.conftest import World, raw_engine
from tests.server.test_cases_support import API, OWNER, ROUTE, case_at, error_code, move, new_case

# The documented table, written out again on purpose: the code's table must say exactly this.
ALLOWED: set[tuple[str, str]] = {
    ("clue", "filed"),
    ("filed", "investigation"),
    ("investigation", "recommendation"),
    ("recommendation", "follow-up"),
    ("recommendation", "litigation"),
    ("follow-up", "litigation"),
    ("follow-up", "recommendation"),
    ("litigation", "enforcement"),
} | {(stage, "closed") for stage in STAGES if stage != "closed"}
PAIRS = list(itertools.product(STAGES, STAGES))


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_the_workflow_table_allows_exactly_the_documented_pairs(current: str, target: str) -> None:
    assert is_allowed(current, target) == ((current, target) in ALLOWED)
    assert (target in next_stages(current)) == ((current, target) in ALLOWED)


def test_the_table_is_complete_closed_is_final_and_only_closing_needs_a_reason() -> None:
    assert set(TRANSITIONS) == set(STAGES)
    assert next_stages("closed") == ()
    assert next_stages("no-such-stage") == ()
    assert [stage for stage in STAGES if needs_reason(stage)] == ["closed"]
    assert all(stage not in next_stages(stage) for stage in STAGES)


def test_every_pair_through_the_api(client: TestClient, world: World) -> None:
    """A fresh case brought to each stage, then asked to move to each stage: 200 exactly for the allowed pairs."""
    headers = world.headers(OWNER)
    for current, target in PAIRS:
        case = case_at(client, world, current)
        assert case["stage"] == current
        answer = client.post(
            f"{API}/cases/{case['id']}/transitions", json={"to": target, "note": "理由"}, headers=headers
        )
        if (current, target) in ALLOWED:
            assert answer.status_code == 200, (current, target, answer.text)
            assert answer.json()["stage"] == target
            assert answer.json()["next_stages"] == list(next_stages(target))
        else:
            assert answer.status_code == 409, (current, target, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "transition_refused"
            assert error["details"] == {"from": current, "to": target, "allowed": list(next_stages(current))}
            after = client.get(f"{API}/cases/{case['id']}", headers=headers).json()
            assert after["stage"] == current, (current, target)


def test_closing_needs_a_reason(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url, headers = f"{API}/cases/{case['id']}/transitions", world.headers(OWNER)
    for body in ({"to": "closed"}, {"to": "closed", "note": None}, {"to": "closed", "note": "   "}):
        answer = client.post(url, json=body, headers=headers)
        assert (answer.status_code, error_code(answer)) == (422, "reason_required"), body
    closed = client.post(url, json={"to": "closed", "note": "经核查线索不实"}, headers=headers)
    assert closed.json()["stage"] == "closed"


def test_bad_transition_requests_are_422(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url, headers = f"{API}/cases/{case['id']}/transitions", world.headers(OWNER)
    bad: list[Any] = [
        {},
        {"to": "done"},
        {"to": "Filed"},
        {"to": None},
        {"to": "filed", "extra": 1},
        ["filed"],
        {"to": "filed", "note": "x" * 4001},
    ]
    for body in bad:
        assert client.post(url, json=body, headers=headers).status_code == 422, body
    assert client.get(f"{API}/cases/{case['id']}", headers=headers).json()["stage"] == "clue"


def test_transitions_are_recorded_with_who_when_and_the_note(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    move(client, world, case["id"], "filed")
    move(client, world, case["id"], "investigation", who="LY/prosecutor")
    url = f"{API}/cases/{case['id']}/transitions"
    client.post(url, json={"to": "closed", "note": "行政机关已整改"}, headers=world.headers("LY-YC/unit_admin"))
    client.post(url, json={"to": "filed"}, headers=world.headers(OWNER))  # refused: not recorded
    listed = client.get(url, headers=world.headers("LY-YC/integration")).json()
    rows = [(t["from"], t["to"], t["by"], t["note"]) for t in listed["items"]]
    assert rows == [
        ("clue", "filed", "ly-yc-prosecutor", None),
        ("filed", "investigation", "ly-prosecutor", None),
        ("investigation", "closed", "ly-yc-unit_admin", "行政机关已整改"),
    ]
    times = [t["at"] for t in listed["items"]]
    assert times == sorted(times)
    assert all(t.endswith("Z") for t in times)
    assert listed["next"] is None
    first_page = client.get(url, params={"limit": 2}, headers=world.headers(OWNER)).json()
    assert [t["id"] for t in first_page["items"]] == [t["id"] for t in listed["items"][:2]]


def test_recorded_transitions_cannot_be_updated_or_deleted(client: TestClient, world: World, database_url: str) -> None:
    case = case_at(client, world, "filed")
    engine = raw_engine(database_url)
    try:
        for statement in ("UPDATE case_transitions SET note = 'rewritten'", "DELETE FROM case_transitions"):
            with pytest.raises(Exception, match="never updated or deleted"), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()
    listed = client.get(f"{API}/cases/{case['id']}/transitions", headers=world.headers(OWNER)).json()
    assert [(t["from"], t["to"], t["note"]) for t in listed["items"]] == [("clue", "filed", None)]


def test_the_route_table_used_by_the_tests_is_the_forward_chain() -> None:
    for stage, route in ROUTE.items():
        stages = ["clue", *route]
        assert all(is_allowed(a, b) for a, b in itertools.pairwise(stages))
        assert stages[-1] == stage
