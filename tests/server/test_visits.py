"""Visits through the API: a site of the case, a time range, at least two distinct investigators (or
prosecutors) of the case's unit, the devices used; refused otherwise with the reason."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from server.users.models import User
from tests.server.conftest import World
from tests.server.test_cases_support import (
    API,
    OWNER,
    case_at,
    error_code,
    in_session,
    new_case,
    new_site,
    visit_body,
)

VISIT_KEYS = {
    "id",
    "case",
    "site",
    "started_at",
    "ended_at",
    "investigators",
    "devices",
    "note",
    "created_at",
    "created_by",
}


def _case_with_site(client: TestClient, world: World) -> tuple[str, int]:
    case = new_case(client, world)
    return f"{API}/cases/{case['id']}/visits", new_site(client, world, case["id"])["id"]


def test_a_visit_is_recorded_listed_and_read(client: TestClient, world: World) -> None:
    url, site_id = _case_with_site(client, world)
    body = visit_body(
        site_id,
        "ly-yc-prosecutor",
        "ly-yc-investigator",
        "ly-yc-prosecutor",
        devices=["DSJ-2", "LD-1", "DSJ-2"],
        note="夜间突击检查",
    )
    answer = client.post(url, json=body, headers=world.headers("LY-YC/investigator"))
    assert answer.status_code == 201, answer.text
    visit = answer.json()
    assert set(visit) == VISIT_KEYS
    assert visit["site"] == site_id
    assert (visit["started_at"], visit["ended_at"]) == ("2026-03-02T01:00:00Z", "2026-03-02T03:30:00Z")
    assert visit["investigators"] == ["ly-yc-investigator", "ly-yc-prosecutor"]
    assert (visit["devices"], visit["note"], visit["created_by"]) == (
        ["DSJ-2", "LD-1"],
        "夜间突击检查",
        "ly-yc-investigator",
    )
    listed = client.get(url, headers=world.headers("LY/integration")).json()
    assert listed == {"items": [visit], "next": None}
    assert client.get(f"{url}/{visit['id']}", headers=world.headers("LY-YC/evidence_officer")).json() == visit
    assert client.get(f"{url}/{visit['id'] + 1}", headers=world.headers(OWNER)).status_code == 404


def test_fewer_than_two_distinct_investigators_is_refused(client: TestClient, world: World) -> None:
    url, site_id = _case_with_site(client, world)
    for names in (
        [],
        ["ly-yc-investigator"],
        ["ly-yc-investigator", "ly-yc-investigator"],
        ["ly-yc-investigator", " ly-yc-investigator "],
    ):
        body = visit_body(site_id) | {"investigators": names}
        answer = client.post(url, json=body, headers=world.headers(OWNER))
        assert (answer.status_code, error_code(answer)) == (422, "too_few_investigators"), names
        assert "at least 2 distinct investigators" in answer.json()["error"]["message"]
    assert client.get(url, headers=world.headers(OWNER)).json()["items"] == []


def test_investigators_must_be_investigators_or_prosecutors_of_the_cases_unit(client: TestClient, world: World) -> None:
    url, site_id = _case_with_site(client, world)
    others = ["ly-sx-investigator", "ly-investigator", "ly-yc-evidence_officer", "ly-yc-unit_admin", "nobody"]
    for other in others:
        answer = client.post(url, json=visit_body(site_id, "ly-yc-investigator", other), headers=world.headers(OWNER))
        assert (answer.status_code, error_code(answer)) == (422, "invalid_investigators"), other
        assert answer.json()["error"]["details"]["refused"] == [other]
    with in_session(client) as session:
        user = session.scalar(select(User).where(User.username == "ly-yc-investigator"))
        assert user is not None
        user.active = False
    answer = client.post(url, json=visit_body(site_id), headers=world.headers(OWNER))
    assert answer.json()["error"]["details"]["refused"] == ["ly-yc-investigator"]


def test_the_site_must_be_one_of_the_cases(client: TestClient, world: World) -> None:
    url, site_id = _case_with_site(client, world)
    other_case = new_case(client, world)
    other_site = new_site(client, world, other_case["id"])["id"]
    for site in (other_site, site_id + 1000):
        answer = client.post(url, json=visit_body(site), headers=world.headers(OWNER))
        assert (answer.status_code, error_code(answer)) == (422, "invalid_site"), site


def test_bad_visit_requests_are_4xx(client: TestClient, world: World) -> None:
    url, site_id = _case_with_site(client, world)
    good = visit_body(site_id)
    bad: list[Any] = [
        {},
        good | {"ended_at": "2026-03-02T08:00:00+08:00"},
        good | {"ended_at": good["started_at"]},
        good | {"started_at": "2026-03-02T09:00:00"},
        good | {"started_at": "yesterday"},
        good | {"site": 0},
        good | {"site": 10**20},
        good | {"investigators": "ly-yc-investigator"},
        good | {"devices": [""]},
        good | {"devices": "LD-1"},
        good | {"extra": True},
        good | {"investigators": ["x" * 101, "y"]},
        good | {"investigators": [f"u{n}" for n in range(51)]},
        good | {"note": "\x00"},
    ]
    for body in bad:
        assert client.post(url, json=body, headers=world.headers(OWNER)).status_code == 422, body
    assert client.get(url, headers=world.headers(OWNER)).json()["items"] == []


def test_visit_creation_is_idempotent(client: TestClient, world: World) -> None:
    url, site_id = _case_with_site(client, world)
    headers = world.headers(OWNER) | {"Idempotency-Key": "visit-2026-03-02"}
    first = client.post(url, json=visit_body(site_id), headers=headers)
    again = client.post(url, json=visit_body(site_id), headers=headers)
    changed = client.post(url, json=visit_body(site_id, note="x"), headers=headers)
    assert (first.status_code, again.status_code, changed.status_code) == (201, 201, 409)
    assert again.json() == first.json()
    assert len(client.get(url, headers=headers).json()["items"]) == 1


def test_a_closed_case_takes_no_new_visit(client: TestClient, world: World) -> None:
    case = case_at(client, world, "investigation")
    site = new_site(client, world, case["id"])
    client.post(
        f"{API}/cases/{case['id']}/transitions", json={"to": "closed", "note": "撤案"}, headers=world.headers(OWNER)
    )
    answer = client.post(f"{API}/cases/{case['id']}/visits", json=visit_body(site["id"]), headers=world.headers(OWNER))
    assert (answer.status_code, error_code(answer)) == (409, "case_closed")
