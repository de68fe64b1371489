"""Helpers for server tests that handle evidence: a case with a site, an enrolled gateway, tus uploads, items."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from evidence.custody import CustodyEvent, new_event
from evidence.keys import SigningKey, generate_key
from server.admin import unit_by_code
from server.db import transaction
from server.devices.service import create_enrollment_code
from tests.server.conftest import World

TUS = {"Tus-Resumable": "1.0.0"}
# A square of about 1.1 km around a riverside outfall in Luoyang (GeoJSON: longitude, latitude).
SITE_POLYGON = {
    "type": "Polygon",
    "coordinates": [[[112.450, 34.615], [112.462, 34.615], [112.462, 34.625], [112.450, 34.625], [112.450, 34.615]]],
}
INSIDE = (34.6197, 112.4540)
OUTSIDE = (34.6400, 112.4540)  # about 1.67 km north of the square's northern edge


def create_case(client: TestClient, world: World, who: str = "LY-YC/prosecutor", **fields: Any) -> dict[str, Any]:
    body = {"title": "洛河排污口非法排放", "domain": "water", "type": "administrative", **fields}
    answer = client.post("/api/v1/cases", json=body, headers=world.headers(who))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def create_site(client: TestClient, world: World, case_id: int, who: str = "LY-YC/investigator") -> dict[str, Any]:
    body = {"name": "洛河1号排污口", "geofence": SITE_POLYGON}
    answer = client.post(f"/api/v1/cases/{case_id}/sites", json=body, headers=world.headers(who))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@dataclass
class Gateway:
    key: SigningKey
    device_id: int


def enroll_gateway(client: TestClient, unit: str = "LY-YC") -> Gateway:
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        code = create_enrollment_code(session, unit_id=unit_by_code(session, unit).id)
    key = generate_key(f"gateway-{uuid.uuid4().hex[:6]}")
    body = {"code": code, "kind": "gateway", "name": "field laptop", "public_key": key.public.to_text()}
    answer = client.post("/api/v1/devices/enroll", json=body)
    assert answer.status_code == 201, answer.text
    return Gateway(key, answer.json()["id"])


def tus_upload(client: TestClient, headers: dict[str, str], data: bytes, *, declared: str | None = None) -> str:
    """Upload ``data`` with tus in two PATCHes; return the upload id (the upload's URL's last part)."""
    sha = declared or hashlib.sha256(data).hexdigest()
    metadata = f"sha256 {base64.b64encode(sha.encode()).decode()},filename {base64.b64encode(b'evidence.bin').decode()}"
    created = client.post(
        "/api/v1/uploads", headers={**headers, **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata}
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    half = len(data) // 2
    for offset, chunk in ((0, data[:half]), (half, data[half:])):
        patch = client.patch(
            location,
            content=chunk,
            headers={**headers, **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
        )
        if offset == half and declared is not None:
            return location.rstrip("/").rsplit("/", 1)[1] + f"#{patch.status_code}"
        assert patch.status_code == 204, patch.text
    return location.rstrip("/").rsplit("/", 1)[1]


def gateway_events(gateway: Gateway, item_id: str, data: bytes, *, name: str = "DSCN0010.jpg") -> list[CustodyEvent]:
    sha = hashlib.sha256(data).hexdigest()
    acquired = new_event(
        key=gateway.key,
        item_id=item_id,
        item_sha256=sha,
        action="acquired",
        at=datetime(2026, 5, 12, 1, 41, 7, tzinfo=UTC),
        previous=None,
        device="DSJ-A8",
        place={"lat": INSIDE[0], "lon": INSIDE[1], "source": "exif-gps"},
        details={"name": name},
    )
    imported = new_event(
        key=gateway.key,
        item_id=item_id,
        item_sha256=sha,
        action="imported",
        at=datetime.now(UTC),
        previous=acquired,
        device=gateway.key.name,
        details={"size": len(data)},
    )
    return [acquired, imported]


def registration(
    case_id: int, item_id: str, upload_id: str, events: list[CustodyEvent], **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": item_id,
        "case_id": case_id,
        "upload_id": upload_id,
        "kind": "photo",
        "media_type": "image/jpeg",
        "name": "DSCN0010.jpg",
        "captured_at": "2026-05-12T09:41:07+08:00",
        "time_source": "gnss",
        "location": {"lat": INSIDE[0], "lon": INSIDE[1], "source": "exif-gps"},
        "collected_by": ["ly-yc-investigator", "ly-yc-prosecutor"],
        "events": [e.to_json() for e in events],
    }
    body.update(fields)
    return body


def register(
    client: TestClient, world: World, gateway: Gateway, case_id: int, data: bytes, **fields: Any
) -> dict[str, Any]:
    headers = world.headers("LY-YC/investigator")
    item_id = str(uuid.uuid4())
    upload_id = tus_upload(client, headers, data)
    body = registration(case_id, item_id, upload_id, gateway_events(gateway, item_id, data), **fields)
    answer = client.post("/api/v1/items", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def register_sensor_batch(client: TestClient, world: World, case_id: int, who: str = "LY-YC/investigator") -> str:
    """A new sensor-batch item of the case (bytes of its own), registered with a gateway's signed events; its id."""
    gateway = enroll_gateway(client)
    headers = world.headers(who)
    data = f'{{"format":"fieldproof.sensor-batch/1","n":"{uuid.uuid4().hex}"}}\n'.encode()
    item_id = str(uuid.uuid4())
    body = {
        "item_id": item_id,
        "case_id": case_id,
        "upload_id": tus_upload(client, headers, data),
        "kind": "sensor-batch",
        "media_type": "application/x-ndjson",
        "name": "sensor-batch.jsonl",
        "events": [e.to_json() for e in gateway_events(gateway, item_id, data)],
    }
    answer = client.post("/api/v1/items", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return item_id
