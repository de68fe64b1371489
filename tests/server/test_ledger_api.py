"""The log over HTTP: signed checkpoints, proofs that verify with the kernel alone, entries, errors and roles."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from fastapi.testclient import TestClient

from evidence.canonical import canonical_bytes
from evidence.checkpoint import SignedNote, verify_note
from evidence.custody import CustodyEvent
from evidence.keys import PublicKey
from evidence.merkle import leaf_hash, root_hash, verify_consistency, verify_inclusion
from server.config import Settings
from server.db import transaction
from server.ledger import service
from tests.server.conftest import ROLES, UNITS, World, raw_engine, text
from tests.server.evidence_helpers import create_case, enroll_gateway, register
from tests.server.test_ledger_service import chain

LOG = "/api/v1/log"
READER = "LY-YC/investigator"


def _append(client: TestClient, events: Sequence[CustodyEvent]) -> None:
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        service.append(session, events)


def _grow(client: TestClient, *lengths: int) -> list[bytes]:
    events = [event for length in lengths for event in chain(length)]
    _append(client, events)
    return [event.to_bytes() for event in events]


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _checkpoint(client: TestClient, world: World) -> SignedNote:
    answer = client.get(f"{LOG}/checkpoint", headers=world.headers(READER))
    assert answer.status_code == 200
    return SignedNote.parse(answer.content)


def test_the_checkpoint_is_a_signed_note_of_the_log(client: TestClient, world: World, settings: Settings) -> None:
    leaves = _grow(client, 3, 2)
    answer = client.get(f"{LOG}/checkpoint", headers=world.headers(READER))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    note = SignedNote.parse(answer.content)
    published = PublicKey.from_text(client.get(f"{LOG}/key", headers=world.headers(READER)).text)
    assert published == service.server_key(settings).public
    assert verify_note(note, [published]) == [published]
    head = note.checkpoint
    assert (head.origin, head.size, head.root) == (settings.log_name, 5, root_hash(leaves))
    as_json = client.get(f"{LOG}/checkpoint", params={"format": "json"}, headers=world.headers(READER)).json()
    assert as_json == {
        "origin": settings.log_name,
        "size": 5,
        "root": base64.b64encode(head.root).decode(),
        "note": answer.text,
    }
    assert client.get(f"{LOG}/checkpoint", headers=world.headers(READER)).content == answer.content


def test_checkpoints_at_two_sizes_are_consistent(client: TestClient, world: World) -> None:
    _grow(client, 3)
    old = _checkpoint(client, world).checkpoint
    _grow(client, 4, 1)
    new = _checkpoint(client, world).checkpoint
    answer = client.get(f"{LOG}/consistency", params={"first": old.size}, headers=world.headers(READER)).json()
    assert (answer["first"], answer["second"]) == (3, 8) == (old.size, new.size)
    assert (_b64(answer["first_root"]), _b64(answer["second_root"])) == (old.root, new.root)
    verify_consistency(old.size, new.size, [_b64(h) for h in answer["proof"]], old.root, new.root)


def test_every_inclusion_proof_verifies_against_the_checkpoint(client: TestClient, world: World) -> None:
    leaves = _grow(client, 4, 3, 4)
    head = _checkpoint(client, world).checkpoint
    for index, leaf in enumerate(leaves):
        answer = client.get(f"{LOG}/inclusion", params={"index": index}, headers=world.headers(READER)).json()
        assert (answer["index"], answer["size"], _b64(answer["root"])) == (index, head.size, head.root)
        assert _b64(answer["leaf_hash"]) == leaf_hash(leaf)
        verify_inclusion(leaf_hash(leaf), index, head.size, [_b64(h) for h in answer["proof"]], head.root)
    pinned = client.get(f"{LOG}/inclusion", params={"index": 2, "size": 3}, headers=world.headers(READER)).json()
    verify_inclusion(leaf_hash(leaves[2]), 2, 3, [_b64(h) for h in pinned["proof"]], root_hash(leaves[:3]))


def test_every_consistency_proof_verifies(client: TestClient, world: World) -> None:
    leaves = _grow(client, 3, 4)
    for second in range(1, len(leaves) + 1):
        for first in range(1, second + 1):
            params = {"first": first, "second": second}
            answer = client.get(f"{LOG}/consistency", params=params, headers=world.headers(READER)).json()
            roots = root_hash(leaves[:first]), root_hash(leaves[:second])
            assert (_b64(answer["first_root"]), _b64(answer["second_root"])) == roots
            verify_consistency(first, second, [_b64(h) for h in answer["proof"]], *roots)


def test_an_entry_is_its_event_shown_only_to_the_items_units(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    registered = register(client, world, enroll_gateway(client), case["id"], b"an entry's bytes")
    index = registered["item"]["log_index"]
    custody = client.get(f"/api/v1/items/{registered['item']['id']}/custody", headers=world.headers(READER)).json()
    event = next(entry["event"] for entry in custody if entry["log_index"] == index)
    answer = client.get(f"{LOG}/entries/{index}", headers=world.headers(READER))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["index"], body["item_id"]) == (index, registered["item"]["id"])
    assert body["event"] == event
    assert _b64(body["leaf_hash"]) == leaf_hash(canonical_bytes(event))
    assert body["appended_at"].endswith(("Z", "+00:00"))
    assert client.get(f"{LOG}/entries/{index}", headers=world.headers("LY/evidence_officer")).status_code == 200
    other_county = client.get(f"{LOG}/entries/{index}", headers=world.headers("LY-SX/investigator"))
    missing = client.get(f"{LOG}/entries/{index + 100}", headers=world.headers("LY-SX/investigator"))
    assert other_county.status_code == missing.status_code == 404
    assert other_county.json()["error"]["message"].replace(str(index), "N") == missing.json()["error"][
        "message"
    ].replace(str(index + 100), "N")


BAD_REQUESTS: list[tuple[str, dict[str, int | str], int]] = [
    ("inclusion", {"index": -1}, 422),
    ("inclusion", {"index": 5}, 400),
    ("inclusion", {"index": 0, "size": 6}, 400),
    ("inclusion", {"index": 3, "size": 3}, 400),
    ("inclusion", {"index": 0, "size": 0}, 422),
    ("inclusion", {"index": "x"}, 422),
    ("inclusion", {}, 422),
    ("consistency", {"first": 0, "second": 3}, 422),
    ("consistency", {"first": 4, "second": 3}, 400),
    ("consistency", {"first": 2, "second": 9}, 400),
    ("consistency", {"first": 9}, 400),
    ("consistency", {"first": -2}, 422),
    ("entries/5", {}, 404),
    ("entries/-1", {}, 422),
    ("checkpoint", {"format": "xml"}, 422),
]


def test_bad_parameters_get_a_reason_in_the_one_error_shape(client: TestClient, world: World) -> None:
    _grow(client, 5)
    for path, params, status in BAD_REQUESTS:
        answer = client.get(f"{LOG}/{path}", params=params, headers=world.headers(READER))
        assert (path, params, answer.status_code) == (path, params, status)
        error = answer.json()["error"]
        assert set(error) == {"code", "message", "details"}
        assert error["message"]


def test_everyone_authenticated_reads_the_log_and_nobody_else(client: TestClient, world: World) -> None:
    _grow(client, 2)
    paths = ["checkpoint", "checkpoint?format=json", "inclusion?index=1", "consistency?first=1", "key"]
    for unit, _name, _parent in UNITS:
        for role in ROLES:
            for path in paths:
                assert client.get(f"{LOG}/{path}", headers=world.headers(f"{unit}/{role}")).status_code == 200
    for path in paths:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            answer = client.get(f"{LOG}/{path}", headers=headers)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "unauthorized"


def test_the_log_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("checkpoint", "inclusion", "consistency", "entries/{index}", "key"):
        assert "get" in paths[f"{LOG}/{path}"]


def test_a_tampered_log_answers_500_with_the_reason(
    client: TestClient, world: World, settings: Settings, database_url: str
) -> None:
    _grow(client, 4)
    _checkpoint(client, world)
    admin = raw_engine(database_url)
    try:
        with admin.begin() as connection:
            if admin.dialect.name == "sqlite":
                connection.execute(text("DROP TRIGGER log_nodes_no_update"))
            else:
                connection.execute(text("DROP TRIGGER log_nodes_no_change ON log_nodes"))
            connection.execute(text('UPDATE log_nodes SET hash = :h WHERE level = 2 AND "index" = 0'), {"h": bytes(32)})
    finally:
        admin.dispose()
    answer = client.get(f"{LOG}/checkpoint", headers=world.headers(READER))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "ledger_inconsistent"
    assert "root at size 4 is not the signed one" in answer.json()["error"]["message"]
