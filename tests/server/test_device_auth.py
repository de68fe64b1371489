"""Device-signed requests: a gateway's signature is checked when present, and the ledger records the device."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from evidence.keys import SigningKey, generate_key
from evidence.requestsig import SIGNATURE_HEADER, sign_request
from tests.server.conftest import World
from tests.server.evidence_helpers import (
    TUS,
    create_case,
    enroll_gateway,
    gateway_events,
    registration,
    tus_upload,
)

UPLOADS = "/api/v1/uploads"
DATA = b"a body-camera photo, as bytes" * 100


def _upload_headers(data: bytes) -> dict[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    return {
        **TUS,
        "Upload-Length": str(len(data)),
        "Upload-Metadata": f"sha256 {base64.b64encode(sha.encode()).decode()}",
    }


def _signed(
    world: World, who: str, key: SigningKey, *, method: str = "POST", target: str = UPLOADS, **kwargs: object
) -> dict[str, str]:
    token = world.tokens[who]
    return {
        **world.headers(who),
        **sign_request(key, method=method, target=target, token=token, **kwargs),  # type: ignore[arg-type]
    }


def test_a_signed_upload_and_registration_record_the_device(client: TestClient, world: World) -> None:
    gateway = enroll_gateway(client)
    who = "LY-YC/investigator"
    created = client.post(UPLOADS, headers={**_signed(world, who, gateway.key), **_upload_headers(DATA)})
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    patch_headers = {
        **_signed(world, who, gateway.key, method="PATCH", target=location),
        **TUS,
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
    }
    assert client.patch(location, content=DATA, headers=patch_headers).status_code == 204
    case = create_case(client, world)
    item_id = str(uuid.uuid4())
    body = registration(case["id"], item_id, location.rsplit("/", 1)[1], gateway_events(gateway, item_id, DATA))
    answer = client.post("/api/v1/items", json=body, headers=_signed(world, who, gateway.key, target="/api/v1/items"))
    assert answer.status_code == 201, answer.text
    received = answer.json()["receipt"]["received_event"]
    assert received["details"]["via_device"] == gateway.key.key_id
    assert received["actor"]["user"] == "ly-yc-investigator"


def test_an_unsigned_request_still_works_and_names_no_device(client: TestClient, world: World) -> None:
    gateway = enroll_gateway(client)
    headers = world.headers("LY-YC/investigator")
    case = create_case(client, world)
    item_id = str(uuid.uuid4())
    upload_id = tus_upload(client, headers, DATA)
    body = registration(case["id"], item_id, upload_id, gateway_events(gateway, item_id, DATA))
    answer = client.post("/api/v1/items", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert "via_device" not in answer.json()["receipt"]["received_event"]["details"]


def _refusal(client: TestClient, headers: dict[str, str]) -> tuple[int, str, str]:
    answer = client.post(UPLOADS, headers={**headers, **_upload_headers(DATA)})
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"]


def test_a_bad_signature_is_refused(client: TestClient, world: World) -> None:
    gateway = enroll_gateway(client)
    headers = _signed(world, "LY-YC/investigator", gateway.key)
    signature = bytearray(base64.b64decode(headers[SIGNATURE_HEADER]))
    signature[0] ^= 1
    headers[SIGNATURE_HEADER] = base64.b64encode(bytes(signature)).decode()
    status, code, message = _refusal(client, headers)
    assert (status, code) == (401, "device_signature")
    assert "does not verify" in message


def test_a_signature_for_another_path_is_refused(client: TestClient, world: World) -> None:
    gateway = enroll_gateway(client)
    headers = _signed(world, "LY-YC/investigator", gateway.key, target="/api/v1/items")
    assert _refusal(client, headers)[:2] == (401, "device_signature")


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_date_more_than_five_minutes_off_is_refused(client: TestClient, world: World, minutes: int) -> None:
    gateway = enroll_gateway(client)
    now = datetime.now(UTC) + timedelta(minutes=minutes)
    status, code, message = _refusal(client, _signed(world, "LY-YC/investigator", gateway.key, now=now))
    assert (status, code) == (401, "device_signature")
    assert "clock" in message


def test_a_key_not_enrolled_is_refused(client: TestClient, world: World) -> None:
    stranger = generate_key("unenrolled-gateway")
    status, code, message = _refusal(client, _signed(world, "LY-YC/investigator", stranger))
    assert (status, code) == (401, "device_signature")
    assert "no device is enrolled" in message


def test_a_device_of_a_unit_the_user_does_not_see_is_forbidden(client: TestClient, world: World) -> None:
    other_units_gateway = enroll_gateway(client, unit="LY-SX")
    status, code, _message = _refusal(client, _signed(world, "LY-YC/investigator", other_units_gateway.key))
    assert (status, code) == (403, "forbidden")


def test_a_signature_replayed_with_another_users_token_is_refused(client: TestClient, world: World) -> None:
    gateway = enroll_gateway(client)
    signed_for_one = _signed(world, "LY-YC/investigator", gateway.key)
    replayed = {**signed_for_one, **world.headers("LY-YC/evidence_officer")}
    status, code, _message = _refusal(client, replayed)
    assert (status, code) == (401, "device_signature")
    assert client.post(UPLOADS, headers={**signed_for_one, **_upload_headers(DATA)}).status_code == 201


def test_partial_signature_headers_are_refused(client: TestClient, world: World) -> None:
    gateway = enroll_gateway(client)
    headers = _signed(world, "LY-YC/investigator", gateway.key)
    del headers[SIGNATURE_HEADER]
    status, code, message = _refusal(client, headers)
    assert (status, code) == (401, "device_signature")
    assert SIGNATURE_HEADER in message
