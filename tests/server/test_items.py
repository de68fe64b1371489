"""Registering evidence: checks at the door, a receipt that proves acceptance, idempotent retries, no second copy."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from evidence.checkpoint import SignedNote, verify_note
from evidence.custody import new_event
from evidence.keys import generate_key, load_public_key
from evidence.merkle import leaf_hash, verify_inclusion
from server.config import Settings
from tests.server.conftest import World, raw_engine
from tests.server.evidence_helpers import (
    OUTSIDE,
    create_case,
    create_site,
    enroll_gateway,
    gateway_events,
    register,
    registration,
    tus_upload,
)
from tests.server.test_cases_support import move, visit_body

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(50_000)


def test_registration_answers_with_a_receipt_that_proves_acceptance(
    client: TestClient, world: World, settings: Settings
) -> None:
    case = create_case(client, world)
    answer = register(client, world, enroll_gateway(client), case["id"], PHOTO)
    item, receipt = answer["item"], answer["receipt"]
    assert answer["created"] is True
    assert item["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert (item["size"], item["kind"], item["time_source"]) == (len(PHOTO), "photo", "gnss")
    note = SignedNote.parse(receipt["checkpoint"].encode())
    server_public = load_public_key(settings.key_path.with_name("server.key.pub"))
    verify_note(note, [server_public])
    head = note.checkpoint
    assert head.origin == "fieldproof.test/log"
    received = receipt["received_event"]
    assert received["action"] == "received"
    assert received["seq"] == 2, "after the gateway's acquired and imported"
    proof = [base64.b64decode(node) for node in receipt["inclusion"]["proof"]]
    from evidence.canonical import canonical_bytes

    verify_inclusion(leaf_hash(canonical_bytes(received)), receipt["log_index"], head.size, proof, head.root)


def test_a_retry_gets_the_same_item_and_a_changed_retry_is_refused(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    gateway = enroll_gateway(client)
    headers = world.headers("LY-YC/investigator")
    item_id = str(uuid.uuid4())
    upload_id = tus_upload(client, headers, PHOTO)
    body = registration(case["id"], item_id, upload_id, gateway_events(gateway, item_id, PHOTO))
    first = client.post("/api/v1/items", json=body, headers=headers)
    again = client.post("/api/v1/items", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False
    assert again.json()["item"]["log_index"] == first.json()["item"]["log_index"]
    changed = client.post("/api/v1/items", json={**body, "name": "other.jpg"}, headers=headers)
    assert changed.status_code == 409
    custody = client.get(f"/api/v1/items/{item_id}/custody", headers=headers).json()
    assert [e["event"]["action"] for e in custody] == ["acquired", "imported", "received"], "nothing twice"


def test_idempotency_key_replays_the_first_answer(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    gateway = enroll_gateway(client)
    headers = {**world.headers("LY-YC/investigator"), "Idempotency-Key": "sync-42"}
    item_id = str(uuid.uuid4())
    body = registration(
        case["id"], item_id, tus_upload(client, headers, PHOTO), gateway_events(gateway, item_id, PHOTO)
    )
    first = client.post("/api/v1/items", json=body, headers=headers)
    replay = client.post("/api/v1/items", json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()


@pytest.mark.parametrize("damage", ["forged", "other-bytes", "broken-chain", "unknown-device", "other-unit-device"])
def test_bad_custody_events_are_refused_and_nothing_is_logged(client: TestClient, world: World, damage: str) -> None:
    case = create_case(client, world)
    gateway = enroll_gateway(client, unit="LY-SX" if damage == "other-unit-device" else "LY-YC")
    headers = world.headers("LY-YC/investigator")
    item_id = str(uuid.uuid4())
    events = [e.to_json() for e in gateway_events(gateway, item_id, PHOTO)]
    if damage == "forged":
        events[0]["details"] = {"name": "innocent.jpg"}
    elif damage == "other-bytes":
        events = [e.to_json() for e in gateway_events(gateway, item_id, PHOTO + b"x")]
    elif damage == "broken-chain":
        events = events[1:]
    elif damage == "unknown-device":
        stranger = generate_key("stranger")
        event = new_event(
            key=stranger,
            item_id=item_id,
            item_sha256=hashlib.sha256(PHOTO).hexdigest(),
            action="acquired",
            at=__import__("datetime").datetime.now(__import__("datetime").UTC),
            previous=None,
            device="stranger",
        )
        events = [event.to_json()]
    body = {**registration(case["id"], item_id, tus_upload(client, headers, PHOTO), []), "events": events}
    answer = client.post("/api/v1/items", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert client.get(f"/api/v1/items/{item_id}", headers=headers).status_code == 404


def test_the_geofence_says_inside_or_outside_with_the_distance(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    create_site(client, world, case["id"])
    gateway = enroll_gateway(client)
    inside = register(client, world, gateway, case["id"], PHOTO)["item"]
    far = {"lat": OUTSIDE[0], "lon": OUTSIDE[1], "source": "exif-gps"}
    outside = register(client, world, gateway, case["id"], PHOTO + b"2", location=far)["item"]
    assert inside["geofence"]["status"] == "inside"
    assert inside["geofence"]["distance_m"] == 0
    assert outside["geofence"]["status"] == "outside"
    assert 1600 < outside["geofence"]["distance_m"] < 1720
    listed = client.get(
        f"/api/v1/cases/{case['id']}/items?geofence=outside", headers=world.headers("LY-YC/prosecutor")
    ).json()
    assert [i["id"] for i in listed["items"]] == [outside["id"]]


def test_content_reads_are_recorded_in_custody(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    item = register(client, world, enroll_gateway(client), case["id"], PHOTO)["item"]
    headers = world.headers("LY-YC/evidence_officer")
    content = client.get(f"/api/v1/items/{item['id']}/content", headers=headers)
    assert content.content == PHOTO
    assert content.headers["x-content-sha256"] == item["sha256"]
    custody = client.get(f"/api/v1/items/{item['id']}/custody", headers=headers).json()
    assert custody[-1]["event"]["action"] == "accessed"
    assert custody[-1]["event"]["actor"]["user"] == "ly-yc-evidence_officer"


def test_verification_passes_then_catches_a_blob_changed_behind_the_servers_back(
    client: TestClient, world: World, settings: Settings
) -> None:
    case = create_case(client, world)
    item = register(client, world, enroll_gateway(client), case["id"], PHOTO)["item"]
    headers = world.headers("LY-YC/evidence_officer")
    ok = client.post(f"/api/v1/items/{item['id']}/verify", headers=headers).json()
    assert ok["valid"] is True
    assert [c["step"] for c in ok["checks"]] == ["blob", "events", "chain", "signatures", "checkpoint", "log"]
    blob = _blob_path(settings, item["sha256"])
    blob.chmod(0o644)
    blob.write_bytes(PHOTO[:-1] + bytes([PHOTO[-1] ^ 1]))
    bad = client.post(f"/api/v1/items/{item['id']}/verify", headers=headers).json()
    assert bad["valid"] is False
    assert [c["step"] for c in bad["checks"] if not c["ok"]] == ["blob"]
    case_check = client.post(f"/api/v1/cases/{case['id']}/verify", headers=headers).json()
    assert case_check["valid"] is False


def test_a_county_cannot_see_another_countys_items(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    item = register(client, world, enroll_gateway(client), case["id"], PHOTO)["item"]
    for who in ("LY-SX/prosecutor", "LY-SX/evidence_officer"):
        assert client.get(f"/api/v1/items/{item['id']}", headers=world.headers(who)).status_code == 404
        assert client.get(f"/api/v1/cases/{case['id']}/items", headers=world.headers(who)).status_code == 404
    assert client.get(f"/api/v1/items/{item['id']}", headers=world.headers("LY/prosecutor")).status_code == 200


def test_the_database_refuses_to_rewrite_items(client: TestClient, world: World, database_url: str) -> None:
    case = create_case(client, world)
    register(client, world, enroll_gateway(client), case["id"], PHOTO)
    engine = raw_engine(database_url)
    try:
        for statement in ("UPDATE items SET name = 'x'", "DELETE FROM items"):
            with pytest.raises(Exception, match="never updated or deleted"), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _blob_path(settings: Settings, sha256: str) -> Path:
    return settings.blob_dir / "sha256" / sha256[:2] / sha256[2:4] / sha256


def _new_visit(client: TestClient, world: World, case_id: int) -> int:
    site = create_site(client, world, case_id)
    answer = client.post(
        f"/api/v1/cases/{case_id}/visits", json=visit_body(site["id"]), headers=world.headers("LY-YC/investigator")
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _try_register(client: TestClient, world: World, case_id: int, data: bytes, **fields: object) -> dict[str, object]:
    headers = world.headers("LY-YC/investigator")
    gateway = enroll_gateway(client)
    item_id = str(uuid.uuid4())
    body = registration(case_id, item_id, tus_upload(client, headers, data), gateway_events(gateway, item_id, data))
    answer = client.post("/api/v1/items", json={**body, **fields}, headers=headers)
    return {"status": answer.status_code, "body": answer.json()}


def test_an_item_names_only_a_visit_and_an_original_of_its_own_case(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    other_case = create_case(client, world)
    foreign_visit = _new_visit(client, world, other_case["id"])
    original = register(client, world, enroll_gateway(client), other_case["id"], b"an original elsewhere")
    for fields in (
        {"visit_id": 999_999},
        {"visit_id": foreign_visit},
        {"derived_from": "no-such-item"},
        {"derived_from": original["item"]["id"]},
    ):
        answer = _try_register(client, world, case["id"], os.urandom(64), **fields)
        assert answer["status"] == 422, (fields, answer)
    own_visit = _new_visit(client, world, case["id"])
    assert _try_register(client, world, case["id"], os.urandom(64), visit_id=own_visit)["status"] == 201


def test_a_closed_case_takes_no_new_evidence_but_answers_retries(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    headers = world.headers("LY-YC/investigator")
    gateway = enroll_gateway(client)
    item_id = str(uuid.uuid4())
    body = registration(
        case["id"], item_id, tus_upload(client, headers, PHOTO), gateway_events(gateway, item_id, PHOTO)
    )
    assert client.post("/api/v1/items", json=body, headers=headers).status_code == 201
    move(client, world, case["id"], "closed", who="LY-YC/prosecutor")
    assert client.post("/api/v1/items", json=body, headers=headers).status_code == 200, "a retry is answered"
    late = _try_register(client, world, case["id"], os.urandom(64))
    assert late["status"] == 409
    assert late["body"]["error"]["code"] == "case_closed"  # type: ignore[index]


def test_bytes_of_another_unit_cannot_be_claimed_by_their_digest(client: TestClient, world: World) -> None:
    theirs = register(client, world, enroll_gateway(client), create_case(client, world)["id"], PHOTO)
    sha = theirs["item"]["sha256"]
    county = create_case(client, world, who="LY-SX/prosecutor")
    headers = world.headers("LY-SX/investigator")
    gateway = enroll_gateway(client, unit="LY-SX")
    item_id = str(uuid.uuid4())
    body = {**registration(county["id"], item_id, "", gateway_events(gateway, item_id, PHOTO)), "upload_id": None}
    body["sha256"] = sha
    claimed = client.post("/api/v1/items", json=body, headers=headers)
    nobody = client.post("/api/v1/items", json={**body, "sha256": "0" * 64}, headers=headers)
    assert claimed.status_code == nobody.status_code == 422
    assert claimed.json()["error"]["message"] == nobody.json()["error"]["message"]
    same_unit = create_case(client, world)
    reuse_id = str(uuid.uuid4())
    gateway_yc = enroll_gateway(client)
    reuse = {**registration(same_unit["id"], reuse_id, "", gateway_events(gateway_yc, reuse_id, PHOTO)), "sha256": sha}
    reuse["upload_id"] = None
    assert client.post("/api/v1/items", json=reuse, headers=world.headers("LY-YC/investigator")).status_code == 201


def test_times_keep_their_zone_and_filters_honour_offsets(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    item = register(client, world, enroll_gateway(client), case["id"], PHOTO)["item"]  # 2026-05-12T09:41:07+08:00
    shown = client.get(f"/api/v1/items/{item['id']}", headers=world.headers("LY-YC/investigator")).json()
    assert shown["captured_at"] == "2026-05-12T09:41:07+08:00"
    assert shown["registered_at"].endswith(("Z", "+00:00"))

    def listed(**params: str) -> list[str]:
        answer = client.get(
            f"/api/v1/cases/{case['id']}/items", params=params, headers=world.headers("LY-YC/investigator")
        )
        assert answer.status_code == 200, answer.text
        return [entry["id"] for entry in answer.json()["items"]]

    assert listed(**{"from": "2026-05-12T09:00:00+08:00"}) == [item["id"]]
    assert listed(**{"from": "2026-05-12T09:42:00+08:00"}) == []
    assert listed(until="2026-05-12T09:30:00+08:00") == []
    assert listed(until="2026-05-12T01:41:07Z") == [item["id"]]
