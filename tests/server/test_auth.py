"""Tokens: issued for the right password, refused otherwise; one error shape; expired and revoked tokens fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from server import auth
from server.auth import token_digest
from server.db import transaction
from server.users.models import Token
from tests.server.conftest import World


def test_a_token_for_the_right_password(client: TestClient, world: World) -> None:
    answer = client.post("/api/v1/auth/token", json={"username": "ly-prosecutor", "password": "pw-ly-prosecutor"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert len(body["access_token"]) >= 40


def test_a_wrong_password_gets_401_in_the_one_error_shape(client: TestClient, world: World) -> None:
    answer = client.post("/api/v1/auth/token", json={"username": "ly-prosecutor", "password": "guess"})
    assert answer.status_code == 401
    assert answer.json() == {"error": {"code": "unauthorized", "message": "wrong username or password", "details": {}}}


def test_malformed_requests_get_422_with_the_problems(client: TestClient) -> None:
    answer = client.post("/api/v1/auth/token", json={"username": ""})
    assert answer.status_code == 422
    problems = answer.json()["error"]["details"]["problems"]
    assert {p["where"] for p in problems} >= {"body.username", "body.password"}


def test_me_says_who_and_what_they_see(client: TestClient, world: World) -> None:
    city = client.get("/api/v1/auth/me", headers=world.headers("LY/prosecutor")).json()
    county = client.get("/api/v1/auth/me", headers=world.headers("LY-YC/investigator")).json()
    assert (city["unit"], city["role"], city["visible_units"]) == ("LY", "prosecutor", ["LY", "LY-SX", "LY-YC"])
    assert county["visible_units"] == ["LY-YC"]


def test_no_or_bad_token_is_401(client: TestClient) -> None:
    assert client.get("/api/v1/auth/me").status_code == 401
    answer = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_tokens_are_stored_only_hashed(client: TestClient, world: World) -> None:
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        stored = set(session.scalars(select(Token.token_hash)))
    assert not stored & set(world.tokens.values())
    assert token_digest(world.tokens["LY/prosecutor"]) in stored


def test_an_expired_token_fails(client: TestClient, world: World) -> None:
    digest = token_digest(world.tokens["LY/investigator"])
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        row = session.scalar(select(Token).where(Token.token_hash == digest))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get("/api/v1/auth/me", headers=world.headers("LY/investigator")).status_code == 401


def test_a_revoked_token_fails(client: TestClient, world: World) -> None:
    headers = world.headers("LY/investigator")
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert client.get("/api/v1/auth/me", headers=world.headers("LY/prosecutor")).status_code == 200


def test_a_token_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-looks-like-an-option", "-again", "fine-token"])
    monkeypatch.setattr(auth.secrets, "token_urlsafe", lambda _n: next(drawn))
    assert auth.new_secret() == "fine-token"
