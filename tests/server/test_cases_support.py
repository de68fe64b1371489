"""Helpers shared by the case, site, visit and role tests (this module holds no tests).

Every helper talks to the API as a client would, except ``principal_of`` and ``in_session``, which reach the
services directly to do what the API rightly cannot (back-date a transition to test deadlines).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth import Principal, visible_units
from server.cases.workflow import Stage
from server.db import transaction
from server.users.models import User
from tests.server.conftest import World

API = "/api/v1"
OWNER = "LY-YC/prosecutor"  # creates and moves the cases of most tests

# The forward chain: the transitions that bring a new case (stage clue) to each stage.
ROUTE: dict[Stage, tuple[Stage, ...]] = {
    "clue": (),
    "filed": ("filed",),
    "investigation": ("filed", "investigation"),
    "recommendation": ("filed", "investigation", "recommendation"),
    "follow-up": ("filed", "investigation", "recommendation", "follow-up"),
    "litigation": ("filed", "investigation", "recommendation", "follow-up", "litigation"),
    "enforcement": ("filed", "investigation", "recommendation", "follow-up", "litigation", "enforcement"),
    "closed": ("closed",),
}

SQUARE: dict[str, Any] = {  # 0.01° × 0.01° near Luoyang, about 924 m × 1109 m
    "type": "Polygon",
    "coordinates": [[[112.0, 34.0], [112.01, 34.0], [112.01, 34.01], [112.0, 34.01], [112.0, 34.0]]],
}


def new_case(client: TestClient, world: World, who: str = OWNER, **fields: Any) -> dict[str, Any]:
    """Create a case through the API (201 asserted) and return its JSON."""
    body = {"title": "河道非法排污", "domain": "water", "type": "administrative", **fields}
    answer = client.post(f"{API}/cases", json=body, headers=world.headers(who))
    assert answer.status_code == 201, answer.text
    case: dict[str, Any] = answer.json()
    return case


def move(client: TestClient, world: World, case_id: int, *stages: str, who: str = OWNER) -> dict[str, Any]:
    """Transition the case through ``stages`` (200 asserted for each); closing gets a reason."""
    case: dict[str, Any] = {}
    for stage in stages:
        body = {"to": stage, "note": "reason given" if stage == "closed" else None}
        answer = client.post(f"{API}/cases/{case_id}/transitions", json=body, headers=world.headers(who))
        assert answer.status_code == 200, (stage, answer.text)
        case = answer.json()
    return case


def case_at(client: TestClient, world: World, stage: Stage, **fields: Any) -> dict[str, Any]:
    """A new case of LY-YC brought to ``stage`` along the forward chain."""
    case = new_case(client, world, **fields)
    return move(client, world, case["id"], *ROUTE[stage]) if ROUTE[stage] else case


def new_site(client: TestClient, world: World, case_id: int, who: str = OWNER) -> dict[str, Any]:
    answer = client.post(
        f"{API}/cases/{case_id}/sites", json={"name": "排污口", "geofence": SQUARE}, headers=world.headers(who)
    )
    assert answer.status_code == 201, answer.text
    site: dict[str, Any] = answer.json()
    return site


def visit_body(site_id: int, *investigators: str, **fields: Any) -> dict[str, Any]:
    return {
        "site": site_id,
        "started_at": "2026-03-02T09:00:00+08:00",
        "ended_at": "2026-03-02T11:30:00+08:00",
        "investigators": list(investigators) or ["ly-yc-investigator", "ly-yc-prosecutor"],
        "devices": ["LD130133000015", "DSJ-V9-0042"],
        **fields,
    }


def error_code(answer: Any) -> str:
    code: str = answer.json()["error"]["code"]
    return code


@contextmanager
def in_session(client: TestClient) -> Iterator[Session]:
    """A unit of work on the app's database, outside any request."""
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        yield session


def principal_of(session: Session, username: str) -> Principal:
    """The principal a token of ``username`` would authenticate as."""
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return Principal(user.id, user.username, user.role, user.unit_id, visible_units(session, user.unit_id))
