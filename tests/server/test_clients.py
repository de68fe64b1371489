"""Integration clients: OAuth 2.0 client credentials (RFC 6749 §4.4) for scoped, unit-bound bearer tokens."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from server.clients.service import CLIENT_ID_PREFIX, create_client, revoke_client
from server.users.models import Token
from tests.server.conftest import World
from tests.server.evidence_helpers import enroll_gateway, register
from tests.server.test_cases_support import in_session, new_case

TOKEN_URL = "/api/v1/oauth/token"
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(4_000)
BOTH = frozenset({"cases:read", "evidence:read"})
pytestmark = pytest.mark.usefixtures("world")  # the units and users clients belong to


def make_client(client: TestClient, unit: str = "LY-YC", scopes: frozenset[str] = BOTH) -> tuple[str, str]:
    with in_session(client) as session:
        return create_client(session, unit_code=unit, name=f"{unit} case system", scopes=scopes)


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def token(client: TestClient, client_id: str, secret: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = client.post(TOKEN_URL, data=form, headers=basic(client_id, secret))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def test_a_client_gets_a_scoped_short_lived_token_by_basic_or_form(client: TestClient) -> None:
    client_id, secret = make_client(client)
    assert client_id.startswith(CLIENT_ID_PREFIX)
    by_basic = client.post(TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert by_basic.status_code == 200, by_basic.text
    body = by_basic.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "cases:read evidence:read")
    assert by_basic.headers["cache-control"] == "no-store"
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "cases:read"}
    by_form = client.post(TOKEN_URL, data=form)
    assert by_form.status_code == 200, by_form.text
    assert by_form.json()["scope"] == "cases:read"
    with in_session(client) as session:
        stored = [scopes for scopes in session.scalars(select(Token.scopes)) if scopes is not None]
    assert sorted(stored) == ["cases:read", "cases:read evidence:read"]


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, "wrong-secret", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "unknown-client", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, "right", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "clues:write"}, "right", 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": ""}, "right", 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "client_id": "x"}, "right", 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_answers_rfc_6749_errors(
    client: TestClient, form: dict[str, str], auth: str | None, status: int, error: str
) -> None:
    client_id, secret = make_client(client, scopes=frozenset({"cases:read"}))
    credentials = {
        "right": basic(client_id, secret),
        "wrong-secret": basic(client_id, secret + "x"),
        "unknown-client": basic(CLIENT_ID_PREFIX + "0" * 16, secret),
        None: {},
    }[auth]
    answer = client.post(TOKEN_URL, data=form, headers=credentials)
    assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
    assert answer.json()["error_description"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")


def test_a_json_body_or_a_repeated_parameter_is_an_invalid_request(client: TestClient) -> None:
    client_id, secret = make_client(client)
    as_json = client.post(TOKEN_URL, json={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    repeated = client.post(
        TOKEN_URL,
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={**basic(client_id, secret), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")


def test_scopes_limit_what_the_token_may_do(client: TestClient, world: World) -> None:
    case_id = int(new_case(client, world)["id"])
    gateway = enroll_gateway(client)
    item = register(client, world, gateway, case_id, PHOTO)["item"]["id"]
    client_id, secret = make_client(client)
    cases_only = bearer(token(client, client_id, secret, "cases:read"))
    assert client.get(f"/api/v1/cases/{case_id}", headers=cases_only).status_code == 200
    refused = client.get(f"/api/v1/cases/{case_id}/items", headers=cases_only)
    assert refused.status_code == 403
    assert "cases:read" in refused.json()["error"]["message"]
    evidence = bearer(token(client, client_id, secret, "evidence:read"))
    assert client.get(f"/api/v1/cases/{case_id}", headers=evidence).status_code == 403
    assert client.get(f"/api/v1/items/{item}", headers=evidence).json()["sha256"]
    content = client.get(f"/api/v1/items/{item}/content", headers=evidence)
    assert content.status_code == 200
    assert content.content == PHOTO
    writes = bearer(token(client, client_id, secret))
    opened = client.post("/api/v1/cases", json={"title": "t", "domain": "water", "type": "civil"}, headers=writes)
    assert opened.status_code == 403, "an integration client reads; it opens no case"


def test_a_units_client_cannot_see_another_units_data(client: TestClient, world: World) -> None:
    yichuan = int(new_case(client, world, "LY-YC/prosecutor")["id"])
    songxian = int(new_case(client, world, "LY-SX/prosecutor")["id"])
    county = bearer(token(client, *make_client(client, "LY-YC")))
    listed = client.get("/api/v1/cases", headers=county).json()["items"]
    assert [case["id"] for case in listed] == [yichuan]
    other = client.get(f"/api/v1/cases/{songxian}", headers=county)
    missing = client.get("/api/v1/cases/999999", headers=county)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json(), "another unit's case is answered as not existing"
    city = bearer(token(client, *make_client(client, "LY")))
    assert sorted(case["id"] for case in client.get("/api/v1/cases", headers=city).json()["items"]) == sorted(
        [yichuan, songxian]
    )


def test_a_revoked_client_gets_no_token_and_its_tokens_stop_working(client: TestClient) -> None:
    client_id, secret = make_client(client)
    held = bearer(token(client, client_id, secret))
    assert client.get("/api/v1/cases", headers=held).status_code == 200
    with in_session(client) as session:
        revoke_client(session, client_id)
    assert client.get("/api/v1/cases", headers=held).status_code == 401
    again = client.post(TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")


def test_a_client_token_expires_within_the_hour(client: TestClient) -> None:
    client_id, secret = make_client(client)
    token(client, client_id, secret)
    with in_session(client) as session:
        issued = session.scalars(select(Token).where(Token.scopes.is_not(None))).one()
        assert issued.expires_at - issued.created_at == timedelta(hours=1)
        assert issued.expires_at > datetime.now(UTC)
