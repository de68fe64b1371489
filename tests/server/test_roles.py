"""The role × endpoint matrix: every endpoint of the app, driven by ``server.auth.PERMISSIONS``.

Every role, in the case's own unit and in the city unit above it, gets 403 exactly where its role lacks the
endpoint's permission and the endpoint's success status everywhere else; without a valid bearer token every endpoint
answers 401, except the few that authenticate otherwise (a password, a device's one-time code) or not at all (tus
discovery). The matrix has a row for every route the app serves, which a test checks by walking the app's routes:
a new endpoint cannot be added without its row. One scene (a case of LY-YC with a site, a visit, a photo, a
sensor batch with readings and an alert, an upload in progress) serves the whole matrix.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from evidence.keys import generate_key
from server.admin import token_for, unit_by_code
from server.app import create_app
from server.auth import PERMISSIONS, SCOPES
from server.clients.service import create_client
from server.config import Settings
from server.devices.service import create_enrollment_code
from server.field_app import APP_PATH
from tests.server.conftest import ROLES, World
from tests.server.evidence_helpers import (
    TUS,
    Gateway,
    enroll_gateway,
    gateway_events,
    register,
    registration,
    tus_upload,
)
from tests.server.test_cases_support import API, OWNER, SQUARE, in_session, new_case, new_site, visit_body

SIGNED_IN = "signed in"  # any valid bearer token, whatever the role
PUBLIC = "public"  # no user token: a password, a device's one-time code, or nothing at all

UPLOADER = "LY-YC/investigator"
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(4_000)
UPLOAD = b"the role matrix uploads these bytes\n"
SENSOR_BATCH = b'{"format":"fieldproof.sensor-batch/1"}\n'
READINGS = [
    {"device": "LYDUST0042", "code": "a34004", "value": value, "unit": "ug/m3", "flag": "N", "measured_at": at}
    for value, at in ((40.0, "2026-05-12T09:40:00+08:00"), (180.0, "2026-05-12T09:41:00+08:00"))
]


def _tus_creation(data: bytes) -> dict[str, str]:
    sha = base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
    return {**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": f"sha256 {sha}"}


TUS_APPEND = {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}


@dataclass
class Scene:
    """What the matrix asks about: a case of LY-YC with its site, visit, items and an upload; and who is asking.

    ``caller`` ("LY-YC/investigator", or None for nobody) is set for each request, so that what must be the
    caller's own (an upload, a registration's upload, a token to revoke) is theirs. Resources are created only for a
    caller whose role may use them: for the others a request is built that would be refused anyway.
    """

    client: TestClient
    world: World
    caller: str | None = None
    case: int = 0
    site: int = 0
    visit: int = 0
    item: str = "no-such-item"  # a photo
    batch: str = "no-such-item"  # a sensor batch, with readings and an alert
    upload: str = "0" * 32  # an upload of UPLOADER's, still receiving
    gateway: Gateway | None = None
    client_id: str = ""  # an integration client of LY-YC, and its secret
    client_secret: str = ""

    def may(self, permission: str) -> bool:
        return self.caller is not None and self.caller.split("/")[1] in PERMISSIONS[permission]

    def headers(self) -> dict[str, str]:
        return self.world.headers(self.caller) if self.caller else {}

    def fresh_case(self) -> int:
        return int(new_case(self.client, self.world)["id"])

    def fresh_clue(self) -> int:
        """A new pending clue of LY-YC (submitted by its investigator)."""
        body = {"title": "矩阵线索", "domain": "water", "source": "complaint"}
        answer = self.client.post(f"{API}/clues", json=body, headers=self.world.headers("LY-YC/investigator"))
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def fresh_token(self) -> dict[str, str]:
        """A new token of the caller's, for a request that revokes the token it carries."""
        if self.caller is None:
            return {}
        unit, role = self.caller.split("/")
        with in_session(self.client) as session:
            return {"Authorization": f"Bearer {token_for(session, username=f'{unit.lower()}-{role}')}"}

    def own_upload(self) -> str:
        """A new upload of the caller's, still receiving."""
        if not self.may("uploads.write"):
            return self.upload
        created = self.client.post(f"{API}/uploads", headers={**self.headers(), **_tus_creation(UPLOAD)})
        assert created.status_code == 201, created.text
        return str(created.headers["location"]).rsplit("/", 1)[1]

    def registration(self) -> dict[str, Any]:
        """A new item of the scene's case: the caller's completed upload, the gateway's signed events."""
        item_id = str(uuid.uuid4())
        if not self.may("items.register"):
            return registration(self.case, item_id, self.upload, [])
        assert self.gateway is not None
        data = PHOTO + os.urandom(8)
        upload_id = tus_upload(self.client, self.headers(), data)
        case = self.own_clue_case() if self.caller and "integration" in self.caller else None
        return registration(case or self.case, item_id, upload_id, gateway_events(self.gateway, item_id, data))

    def own_clue_case(self) -> int | None:
        """The case of a clue of LY-YC the caller submitted (the only cases an integration client attaches evidence
        to); None when the caller cannot submit one there (another county's client: it gets the scene's case)."""
        body = {"title": "矩阵线索", "domain": "water", "source": "platform", "unit": "LY-YC"}
        answer = self.client.post(f"{API}/clues", json=body, headers=self.headers())
        if answer.status_code == 422:
            return None
        assert answer.status_code == 201, answer.text
        return int(answer.json()["case_id"])

    def enrollment(self) -> dict[str, Any]:
        """A new device for LY-YC, with a fresh one-time code (which is what authenticates an enrollment)."""
        with in_session(self.client) as session:
            code = create_enrollment_code(session, unit_id=unit_by_code(session, "LY-YC").id)
        key = generate_key(f"matrix-{uuid.uuid4().hex[:6]}")
        return {"code": code, "kind": "gateway", "name": "field laptop", "public_key": key.public.to_text()}


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # as the app serves it, below API
    permission: str  # a key of PERMISSIONS, SIGNED_IN or PUBLIC
    success: int
    url: Callable[[Scene], str]
    body: Callable[[Scene], Any] = lambda _scene: None
    headers: Callable[[Scene], dict[str, str]] = lambda _scene: {}
    content: bytes | None = None
    form: Callable[[Scene], dict[str, str]] | None = None  # a form body instead of JSON
    spends_token: bool = False  # revokes the token it carries: the caller gets a fresh one for it
    basic_is_its_credential: bool = False  # HTTP Basic authenticates its caller (OAuth client credentials)

    def allows(self, role: str) -> bool:
        return self.permission in (SIGNED_IN, PUBLIC) or role in PERMISSIONS[self.permission]

    def ask(self, scene: Scene, auth: dict[str, str]) -> httpx.Response:
        return scene.client.request(
            self.method,
            API + self.url(scene),
            json=self.body(scene),
            content=self.content,
            data=None if self.form is None else self.form(scene),
            headers={**self.headers(scene), **auth},
        )


def _tus(_scene: Scene) -> dict[str, str]:
    return TUS


WEBHOOK = {"url": "http://127.0.0.1:9/matrix", "event_types": ["alert.raised"]}  # port 9: nobody listens


def _webhook(scene: Scene) -> int:
    """A new active webhook endpoint of LY-YC (made by its unit administrator)."""
    made = scene.client.post(f"{API}/webhooks", json=WEBHOOK, headers=scene.world.headers("LY-YC/unit_admin"))
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


ENDPOINTS = [
    # auth
    Endpoint(
        "POST",
        "/auth/token",
        PUBLIC,
        200,
        lambda s: "/auth/token",
        lambda s: {"username": "ly-prosecutor", "password": "pw-ly-prosecutor"},
    ),
    Endpoint("GET", "/auth/me", SIGNED_IN, 200, lambda s: "/auth/me"),
    Endpoint(
        "POST",
        "/oauth/token",
        PUBLIC,
        200,
        lambda s: "/oauth/token",
        form=lambda s: {"grant_type": "client_credentials", "client_id": s.client_id, "client_secret": s.client_secret},
        basic_is_its_credential=True,
    ),
    Endpoint("DELETE", "/auth/token", SIGNED_IN, 204, lambda s: "/auth/token", spends_token=True),
    # cases
    Endpoint("GET", "/cases", "cases.read", 200, lambda s: "/cases"),
    Endpoint(
        "POST",
        "/cases",
        "cases.write",
        201,
        lambda s: "/cases",
        lambda s: {"title": "矩阵", "domain": "other", "type": "civil"},
    ),
    Endpoint("GET", "/cases/overdue", "cases.read", 200, lambda s: "/cases/overdue"),
    Endpoint("GET", "/cases/{case_id}", "cases.read", 200, lambda s: f"/cases/{s.case}"),
    Endpoint(
        "PATCH",
        "/cases/{case_id}",
        "cases.write",
        200,
        lambda s: f"/cases/{s.case}",
        lambda s: {"description": "矩阵测试"},
    ),
    Endpoint(
        "POST",
        "/cases/{case_id}/transitions",
        "cases.transition",
        200,
        lambda s: f"/cases/{s.fresh_case()}/transitions",
        lambda s: {"to": "filed"},
    ),
    Endpoint("GET", "/cases/{case_id}/transitions", "cases.read", 200, lambda s: f"/cases/{s.case}/transitions"),
    # clues
    Endpoint(
        "POST",
        "/clues",
        "clues.write",
        201,
        lambda s: "/clues",
        lambda s: {"title": "矩阵线索", "domain": "air", "source": "platform"},
    ),
    Endpoint("GET", "/clues", "cases.read", 200, lambda s: "/clues"),
    Endpoint("GET", "/clues/{clue_id}", "cases.read", 200, lambda s: f"/clues/{s.fresh_clue()}"),
    Endpoint(
        "POST",
        "/clues/{clue_id}/accept",
        "cases.transition",
        200,
        lambda s: f"/clues/{s.fresh_clue()}/accept",
        lambda s: {},
    ),
    Endpoint(
        "POST",
        "/clues/{clue_id}/dismiss",
        "cases.transition",
        200,
        lambda s: f"/clues/{s.fresh_clue()}/dismiss",
        lambda s: {"reason": "不属实"},
    ),
    # sites
    Endpoint("GET", "/cases/{case_id}/sites", "cases.read", 200, lambda s: f"/cases/{s.case}/sites"),
    Endpoint(
        "POST",
        "/cases/{case_id}/sites",
        "sites.write",
        201,
        lambda s: f"/cases/{s.case}/sites",
        lambda s: {"name": "矩阵", "geofence": SQUARE},
    ),
    Endpoint("GET", "/cases/{case_id}/sites/{site_id}", "cases.read", 200, lambda s: f"/cases/{s.case}/sites/{s.site}"),
    # visits
    Endpoint("GET", "/cases/{case_id}/visits", "cases.read", 200, lambda s: f"/cases/{s.case}/visits"),
    Endpoint(
        "POST",
        "/cases/{case_id}/visits",
        "visits.write",
        201,
        lambda s: f"/cases/{s.case}/visits",
        lambda s: visit_body(s.site),
    ),
    Endpoint(
        "GET", "/cases/{case_id}/visits/{visit_id}", "cases.read", 200, lambda s: f"/cases/{s.case}/visits/{s.visit}"
    ),
    # devices: enrollment is authenticated by the one-time code, not by a user
    Endpoint("POST", "/devices/enroll", PUBLIC, 201, lambda s: "/devices/enroll", lambda s: s.enrollment()),
    Endpoint("GET", "/devices", "items.read", 200, lambda s: "/devices"),
    # uploads (tus): discovery is open to all; the rest is the caller's own upload
    Endpoint("OPTIONS", "/uploads", PUBLIC, 204, lambda s: "/uploads"),
    Endpoint("POST", "/uploads", "uploads.write", 201, lambda s: "/uploads", headers=lambda s: _tus_creation(UPLOAD)),
    Endpoint(
        "HEAD", "/uploads/{upload_id}", "uploads.write", 200, lambda s: f"/uploads/{s.own_upload()}", headers=_tus
    ),
    Endpoint(
        "PATCH",
        "/uploads/{upload_id}",
        "uploads.write",
        204,
        lambda s: f"/uploads/{s.own_upload()}",
        headers=lambda s: TUS_APPEND,
        content=UPLOAD,
    ),
    Endpoint(
        "DELETE", "/uploads/{upload_id}", "uploads.write", 204, lambda s: f"/uploads/{s.own_upload()}", headers=_tus
    ),
    # items
    Endpoint("POST", "/items", "items.register", 201, lambda s: "/items", lambda s: s.registration()),
    Endpoint("GET", "/items/{item_id}", "items.read", 200, lambda s: f"/items/{s.item}"),
    Endpoint("GET", "/items/{item_id}/content", "items.content", 200, lambda s: f"/items/{s.item}/content"),
    Endpoint("GET", "/items/{item_id}/custody", "items.read", 200, lambda s: f"/items/{s.item}/custody"),
    Endpoint("POST", "/items/{item_id}/verify", "items.verify", 200, lambda s: f"/items/{s.item}/verify"),
    Endpoint("GET", "/cases/{case_id}/items", "items.read", 200, lambda s: f"/cases/{s.case}/items"),
    # readings and alerts (resending a batch is harmless: it is answered as duplicates)
    Endpoint(
        "POST",
        "/readings",
        "readings.write",
        200,
        lambda s: "/readings",
        lambda s: {"item_id": s.batch, "readings": READINGS},
    ),
    Endpoint("GET", "/cases/{case_id}/readings", "readings.read", 200, lambda s: f"/cases/{s.case}/readings"),
    Endpoint("GET", "/cases/{case_id}/alerts", "readings.read", 200, lambda s: f"/cases/{s.case}/alerts"),
    Endpoint("GET", "/alerts", "readings.read", 200, lambda s: f"/alerts?case={s.case}"),
    # webhooks
    Endpoint("GET", "/webhooks", "webhooks.manage", 200, lambda s: "/webhooks"),
    Endpoint("POST", "/webhooks", "webhooks.manage", 201, lambda s: "/webhooks", lambda s: WEBHOOK),
    Endpoint("GET", "/webhooks/{webhook_id}", "webhooks.manage", 200, lambda s: f"/webhooks/{_webhook(s)}"),
    Endpoint(
        "PATCH",
        "/webhooks/{webhook_id}",
        "webhooks.manage",
        200,
        lambda s: f"/webhooks/{_webhook(s)}",
        lambda s: {"description": "矩阵"},
    ),
    Endpoint("DELETE", "/webhooks/{webhook_id}", "webhooks.manage", 204, lambda s: f"/webhooks/{_webhook(s)}"),
    Endpoint("POST", "/webhooks/{webhook_id}/test", "webhooks.manage", 202, lambda s: f"/webhooks/{_webhook(s)}/test"),
    Endpoint(
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        "webhooks.manage",
        200,
        lambda s: f"/webhooks/{_webhook(s)}/deliveries",
    ),
    # the custody log
    Endpoint("GET", "/log/checkpoint", "log.read", 200, lambda s: "/log/checkpoint"),
    Endpoint("GET", "/log/inclusion", "log.read", 200, lambda s: "/log/inclusion?index=0"),
    Endpoint("GET", "/log/consistency", "log.read", 200, lambda s: "/log/consistency?first=1"),
    Endpoint("GET", "/log/entries/{index}", "log.read", 200, lambda s: "/log/entries/0"),
    Endpoint("GET", "/log/key", "log.read", 200, lambda s: "/log/key"),
    # reports
    Endpoint("POST", "/cases/{case_id}/verify", "items.verify", 200, lambda s: f"/cases/{s.case}/verify"),
    Endpoint("GET", "/cases/{case_id}/package", "cases.export", 200, lambda s: f"/cases/{s.case}/package"),
    # campaign
    Endpoint("GET", "/campaign", "campaign.read", 200, lambda s: "/campaign"),
    Endpoint("GET", "/campaign.csv", "campaign.read", 200, lambda s: "/campaign.csv"),
    Endpoint("GET", "/campaign/report", "campaign.read", 200, lambda s: "/campaign/report"),
]


def _new_app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'routes.sqlite3'}"))


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path below API) of every API route the app serves; asserts each is under API."""
    served: set[tuple[str, str]] = set()
    documentation = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    documentation.add(APP_PATH)  # the field app's static files (no data: every byte of data comes from the API)
    for context in iter_route_contexts(app.routes):
        path = str(context.path)
        if not isinstance(context.original_route, APIRoute):
            assert path in documentation, f"{path} is served outside the API"
            continue
        assert path.startswith(API + "/"), f"{path} is not under {API}"
        served.update((method, path.removeprefix(API)) for method in context.methods or ())
    return served


def test_the_matrix_has_a_row_for_every_route_of_the_app(tmp_path: Path) -> None:
    app = _new_app(tmp_path)
    try:
        served = served_routes(app)
    finally:
        app.state.engine.dispose()
    rows = [(e.method, e.route) for e in ENDPOINTS]
    assert len(rows) == len(set(rows)), "a route has two rows"
    assert sorted(served - set(rows)) == [], "routes without a row in the matrix"
    assert sorted(set(rows) - served) == [], "rows for routes the app does not serve"
    assert all(e.permission in PERMISSIONS or e.permission in (SIGNED_IN, PUBLIC) for e in ENDPOINTS)


def test_the_openapi_lists_every_endpoint_with_a_summary(tmp_path: Path) -> None:
    app = _new_app(tmp_path)
    try:
        paths = app.openapi()["paths"]
    finally:
        app.state.engine.dispose()
    for endpoint in ENDPOINTS:
        operation = paths[API + endpoint.route][endpoint.method.lower()]
        assert operation["summary"], endpoint.route
        assert str(endpoint.success) in operation["responses"], (endpoint.method, endpoint.route)


def build_scene(client: TestClient, world: World) -> Scene:
    """The case of LY-YC the matrix asks about, with everything its endpoints name."""
    case = int(new_case(client, world)["id"])
    site = int(new_site(client, world, case)["id"])
    visit = client.post(f"{API}/cases/{case}/visits", json=visit_body(site), headers=world.headers(OWNER))
    assert visit.status_code == 201, visit.text
    gateway = enroll_gateway(client)
    photo = register(client, world, gateway, case, PHOTO)["item"]["id"]
    batch = register(
        client,
        world,
        gateway,
        case,
        SENSOR_BATCH,
        kind="sensor-batch",
        media_type="application/x-ndjson",
        name="sensor-batch.jsonl",
    )["item"]["id"]
    stored = client.post(
        f"{API}/readings", json={"item_id": batch, "readings": READINGS}, headers=world.headers(UPLOADER)
    )
    assert stored.json() == {"stored": 2, "duplicates": 0, "alerts": 1}, stored.text
    scene = Scene(client, world, None, case, site, int(visit.json()["id"]), photo, batch, gateway=gateway)
    with in_session(client) as session:
        scene.client_id, scene.client_secret = create_client(
            session, unit_code="LY-YC", name="matrix case system", scopes=frozenset(SCOPES)
        )
    scene.upload = replace(scene, caller=UPLOADER).own_upload()
    return scene


def test_every_role_against_every_endpoint(client: TestClient, world: World) -> None:
    scene = build_scene(client, world)
    wrong: list[str] = []
    for unit in ("LY-YC", "LY"):
        for role in ROLES:
            who = f"{unit}/{role}"
            at = replace(scene, caller=who)
            for endpoint in ENDPOINTS:
                allowed = endpoint.allows(role)
                expected = endpoint.success if allowed else 403
                answer = endpoint.ask(at, at.fresh_token() if endpoint.spends_token else world.headers(who))
                if answer.status_code != expected:
                    got = f"{answer.status_code} {answer.text[:200]}"
                    wrong.append(f"{who} {endpoint.method} {endpoint.route}: {got} != {expected}")
                elif not allowed and endpoint.method != "HEAD":  # a HEAD answer has no body
                    assert answer.json()["error"]["code"] == "forbidden"
    assert not wrong, "\n".join(wrong)


def test_without_a_valid_token_only_the_public_endpoints_answer(client: TestClient, world: World) -> None:
    scene = build_scene(client, world)  # the resources exist: still nothing is answered without a token
    wrong: list[str] = []
    for endpoint in ENDPOINTS:
        for auth in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
            answer = endpoint.ask(scene, auth)
            expected = endpoint.success if endpoint.permission == PUBLIC else 401
            if endpoint.basic_is_its_credential and auth.get("Authorization", "").startswith("Basic"):
                expected = 400  # Basic and the form both authenticating the client: RFC 6749 allows one
            if answer.status_code != expected:
                wrong.append(f"{endpoint.method} {endpoint.route} {auth}: {answer.status_code} != {expected}")
            elif expected == 401:
                assert answer.headers["www-authenticate"] == "Bearer"
    assert not wrong, "\n".join(wrong)


def test_the_public_endpoints_check_their_own_credential(client: TestClient, world: World) -> None:
    """A password, a one-time code: a bearer token neither replaces nor changes them."""
    token = world.headers("LY-SX/unit_admin")
    wrong_password = {"username": "ly-prosecutor", "password": "not-the-password"}
    assert client.post(f"{API}/auth/token", json=wrong_password, headers=token).status_code == 401
    enrollment = Scene(client, world).enrollment()
    enrolled = client.post(f"{API}/devices/enroll", json=enrollment, headers=token)
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["unit"] == "LY-YC", "the code's unit, not the token's"
    spent = {**enrollment, "public_key": generate_key("second").public.to_text()}
    unknown = {**spent, "code": "AAAA-BBBB-CCCC"}
    for body in (spent, unknown):
        for headers in ({}, token):
            answer = client.post(f"{API}/devices/enroll", json=body, headers=headers)
            assert answer.status_code == 401, (body["code"], headers, answer.text)
            assert answer.json()["error"]["code"] == "unauthorized"
