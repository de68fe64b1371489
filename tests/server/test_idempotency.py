"""Idempotency-Key on the creating POSTs that answer with headers or without a user: tus creation, enrollment.

(Cases, sites, visits, items and clues replay JSON the same way: their own tests cover them.)
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from evidence.keys import generate_key
from server.admin import unit_by_code
from server.db import transaction
from server.devices.service import create_enrollment_code
from tests.server.conftest import World
from tests.server.test_uploads import TUS, Uploader, metadata

DATA = b"an upload created twice over a flaky network\n"


def test_a_repeated_tus_creation_gets_the_same_upload(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    tus.headers["Idempotency-Key"] = "upload-1"
    first = tus.create(len(DATA), metadata(DATA))
    again = tus.create(len(DATA), metadata(DATA))
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Upload-Expires"] == first.headers["Upload-Expires"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Tus-Resumable"] == "1.0.0"
    assert tus.patch(first.headers["Location"], 0, DATA).status_code == 204
    other = tus.create(len(DATA) + 1, metadata(DATA))
    assert other.status_code == 409, other.text
    tus.headers["Idempotency-Key"] = "upload-2"
    assert tus.create(len(DATA), metadata(DATA)).headers["Location"] != first.headers["Location"]


def test_the_same_key_of_another_user_is_another_upload(client: TestClient, world: World) -> None:
    mine, theirs = Uploader(client, world), Uploader(client, world, "LY-YC/investigator")
    for tus in (mine, theirs):
        tus.headers["Idempotency-Key"] = "upload-1"
    first = mine.create(len(DATA), metadata(DATA))
    second = theirs.create(len(DATA), metadata(DATA))
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.headers["Location"] != first.headers["Location"]


def test_a_repeated_enrollment_gets_the_same_device_without_the_key_it_is_refused(
    client: TestClient, world: World
) -> None:
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        code = create_enrollment_code(session, unit_id=unit_by_code(session, "LY-YC").id)
    key = generate_key(f"gateway-{uuid.uuid4().hex[:6]}")
    body = {"code": code, "kind": "gateway", "name": "field laptop", "public_key": key.public.to_text()}
    keyed = {"Idempotency-Key": "enroll-1"}
    first = client.post("/api/v1/devices/enroll", json=body, headers=keyed)
    again = client.post("/api/v1/devices/enroll", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert client.post("/api/v1/devices/enroll", json=body).status_code == 401  # the code is used
    assert client.post("/api/v1/devices/enroll", json={**body, "name": "other"}, headers=keyed).status_code == 409


def test_tus_headers_stay_on_a_replay(client: TestClient, world: World) -> None:
    headers = {**TUS, **world.headers("LY/investigator"), "Idempotency-Key": "k"}
    headers |= {"Upload-Length": str(len(DATA)), "Upload-Metadata": metadata(DATA)}
    client.post("/api/v1/uploads", headers=headers)
    replay = client.post("/api/v1/uploads", headers=headers)
    assert replay.status_code == 201
    assert replay.content == b""
