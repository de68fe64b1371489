"""Clue intake: case systems and platforms submit clues, attach evidence, and units accept or dismiss them."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import World
from tests.server.evidence_helpers import tus_upload
from tests.server.test_cases_support import API, OWNER, error_code, new_case
from tests.server.test_clients import make_client, token

pytestmark = pytest.mark.usefixtures("world")
SUBMIT = frozenset({"clues:write", "cases:read"})
NOTICE = "洛阳市生态环境局移送：洛河排污口夜间偷排，附现场照片与通报文书。".encode()


def clue_body(**fields: Any) -> dict[str, Any]:
    body = {
        "title": "洛河排污口夜间偷排",
        "domain": "water",
        "source": "platform",
        "platform": "行政执法与行政检察衔接平台",
        "reference": f"XJ-2026-{uuid.uuid4().hex[:6]}",
        "description": "群众举报，生态环境局移送。",
        "place": {"name": "洛阳市洛龙区洛河南岸1号排污口", "lat": 34.6197, "lon": 112.4540},
    }
    return {**body, **fields}


def bearer(client: TestClient, unit: str = "LY-YC", scopes: frozenset[str] = SUBMIT) -> dict[str, str]:
    client_id, secret = make_client(client, unit=unit, scopes=scopes)
    return {"Authorization": f"Bearer {token(client, client_id, secret)}"}


def submit(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    answer = client.post(f"{API}/clues", json=clue_body(**fields), headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def attach(client: TestClient, headers: dict[str, str], case_id: int, data: bytes = NOTICE) -> Any:
    body = {
        "item_id": f"clue-{uuid.uuid4().hex[:12]}",
        "case_id": case_id,
        "upload_id": tus_upload(client, headers, data),
        "kind": "document",
        "media_type": "text/plain",
        "name": "移送函.txt",
    }
    return client.post(f"{API}/items", json=body, headers=headers)


def test_a_clue_submitted_by_an_integration_client_becomes_a_case(client: TestClient, world: World) -> None:
    platform = bearer(client)
    clue = submit(client, platform)
    assert (clue["status"], clue["stage"], clue["unit"], clue["source"]) == ("pending", "clue", "LY-YC", "platform")
    assert clue["submitted_by"].startswith("client:")
    assert clue["decision"] is None
    attached = attach(client, platform, clue["case_id"])
    assert attached.status_code == 201, attached.text
    assert attached.json()["item"]["sha256"] == hashlib.sha256(NOTICE).hexdigest()

    accepted = client.post(
        f"{API}/clues/{clue['id']}/accept", json={"note": "线索属实，立案"}, headers=world.headers(OWNER)
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["items"] == 1
    assert accepted.json()["decision"]["by"] == "ly-yc-prosecutor"
    case = client.get(f"{API}/cases/{clue['case_id']}", headers=world.headers(OWNER)).json()
    assert (case["stage"], case["number"], case["title"]) == ("filed", clue["case_number"], "洛河排污口夜间偷排")
    items = client.get(f"{API}/cases/{clue['case_id']}/items", headers=world.headers(OWNER)).json()["items"]
    assert [item["name"] for item in items] == ["移送函.txt"]
    verified = client.post(f"{API}/items/{items[0]['id']}/verify", headers=world.headers("LY-YC/evidence_officer"))
    assert verified.status_code == 200, verified.text
    assert verified.json()["valid"] is True


def test_a_dismissal_needs_a_reason_and_a_decided_clue_stays_decided(client: TestClient, world: World) -> None:
    clue = submit(client, world.headers("LY-YC/investigator"), source="complaint", platform=None)
    url = f"{API}/clues/{clue['id']}"
    assert client.post(f"{url}/dismiss", json={"reason": "  "}, headers=world.headers(OWNER)).status_code == 422
    dismissed = client.post(f"{url}/dismiss", json={"reason": "已由行政机关整改完毕"}, headers=world.headers(OWNER))
    assert dismissed.status_code == 200, dismissed.text
    assert (dismissed.json()["status"], dismissed.json()["stage"]) == ("dismissed", "closed")
    assert dismissed.json()["decision"]["note"] == "已由行政机关整改完毕"
    again = client.post(f"{url}/accept", json={}, headers=world.headers(OWNER))
    assert (again.status_code, error_code(again)) == (409, "clue_decided")
    investigator = client.post(f"{url}/accept", json={}, headers=world.headers("LY-YC/investigator"))
    assert investigator.status_code == 403


def test_a_units_integration_client_cannot_see_or_touch_another_units_clues(client: TestClient, world: World) -> None:
    yc_clue = submit(client, bearer(client, "LY-YC"))
    other = bearer(client, "LY-SX")
    assert client.get(f"{API}/clues/{yc_clue['id']}", headers=other).status_code == 404
    assert client.get(f"{API}/clues", headers=other).json()["items"] == []
    assert client.get(f"{API}/cases/{yc_clue['case_id']}", headers=other).status_code == 404
    assert attach(client, other, yc_clue["case_id"]).status_code == 404
    city = client.get(f"{API}/clues", headers=world.headers("LY/prosecutor")).json()["items"]
    assert [clue["id"] for clue in city] == [yc_clue["id"]]


def test_a_client_attaches_only_to_its_own_pending_clues(client: TestClient, world: World) -> None:
    platform = bearer(client)
    elsewhere = new_case(client, world)
    refused = attach(client, platform, elsewhere["id"])
    assert (refused.status_code, error_code(refused)) == (403, "not_your_clue")
    someone_elses = submit(client, bearer(client))
    assert error_code(attach(client, platform, someone_elses["case_id"])) == "not_your_clue"
    mine = submit(client, platform)
    client.post(f"{API}/clues/{mine['id']}/accept", json={}, headers=world.headers(OWNER))
    assert error_code(attach(client, platform, mine["case_id"])) == "not_your_clue"


def test_a_clue_is_submitted_once_by_reference_and_by_idempotency_key(client: TestClient, world: World) -> None:
    platform = bearer(client)
    first = submit(client, platform, reference="XJ-2026-0001")
    again = client.post(f"{API}/clues", json=clue_body(reference="XJ-2026-0001"), headers=platform)
    assert (again.status_code, error_code(again)) == (409, "clue_exists")
    assert again.json()["error"]["details"]["clue_id"] == first["id"]
    keyed = {**platform, "Idempotency-Key": "submission-7"}
    body = clue_body(reference=None)
    one = client.post(f"{API}/clues", json=body, headers=keyed)
    two = client.post(f"{API}/clues", json=body, headers=keyed)
    assert one.status_code == two.status_code == 201
    assert one.json() == two.json()
    assert two.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(f"{API}/clues", headers=platform).json()["items"]) == 2


def test_what_a_client_may_submit(client: TestClient, world: World) -> None:
    reader = bearer(client, scopes=frozenset({"cases:read"}))
    assert client.post(f"{API}/clues", json=clue_body(), headers=reader).status_code == 403
    platform = bearer(client)
    above = client.post(f"{API}/clues", json=clue_body(unit="LY"), headers=platform)
    assert above.status_code == 422, above.text
    half_place = client.post(f"{API}/clues", json=clue_body(place={"lat": 34.6}), headers=platform)
    assert half_place.status_code == 422
    unknown_source = client.post(f"{API}/clues", json=clue_body(source="rumour"), headers=platform)
    assert unknown_source.status_code == 422


def test_clues_are_listed_by_status_and_source(client: TestClient, world: World) -> None:
    headers = world.headers("LY-YC/investigator")
    complaint = submit(client, headers, source="complaint")
    platform = submit(client, headers)
    client.post(f"{API}/clues/{platform['id']}/accept", json={}, headers=world.headers(OWNER))

    def ids(**query: str) -> list[int]:
        answer = client.get(f"{API}/clues", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        return [clue["id"] for clue in answer.json()["items"]]

    assert ids(status="pending") == [complaint["id"]]
    assert ids(status="accepted") == [platform["id"]]
    assert ids(status="dismissed") == []
    assert ids(source="complaint") == [complaint["id"]]
    assert ids(domain="air") == []
    first_page = client.get(f"{API}/clues", params={"limit": 1}, headers=headers).json()
    second = client.get(f"{API}/clues", params={"limit": 1, "cursor": first_page["next"]}, headers=headers).json()
    assert [first_page["items"][0]["id"], second["items"][0]["id"]] == [complaint["id"], platform["id"]]
    one = client.get(f"{API}/clues/{complaint['id']}", headers=headers)
    assert one.headers["ETag"].startswith('"')
