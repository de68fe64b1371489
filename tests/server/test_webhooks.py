"""Webhooks: Standard Webhooks signatures, retries on the backoff schedule, the delivery log, unit isolation.

A real HTTP receiver (``http.server`` on 127.0.0.1) verifies the signature of every request it gets with its
endpoint's secret, and can answer 500 for its first requests. The worker's ``deliver_due`` is called with a chosen
``now``, so the backoff schedule is checked without waiting; one test runs the app's real background worker.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.webhooks import signing
from server.webhooks.worker import BACKOFF, deliver_due, scan_deadlines
from tests.server.conftest import World
from tests.server.evidence_helpers import enroll_gateway, register
from tests.server.test_cases_support import in_session, move, new_case
from tests.server.test_clients import bearer, make_client, token

API = "/api/v1"
ADMIN = "LY-YC/unit_admin"
PHOTO = b"\xff\xd8\xff\xe0webhook photo"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The app without its background worker: these tests send deliveries themselves, at the ``now`` they choose."""
    return Settings(
        data_dir=tmp_path / "server", database_url=database_url, log_name="fieldproof.test/log", webhook_worker=False
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A webhook receiver: verifies each request with the secret of its path; answers 500 to the first ``fail``."""

    base: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_…
    fail: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def take(self, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            signing.verify(self.secrets[path], headers=headers, body=body, now=int(time.time()))
            verified = True
        except (signing.SignatureError, KeyError):
            verified = False
        with self.lock:
            status = 400 if not verified else 500 if self.fail > 0 else 200
            self.fail -= status == 500
            self.received.append(Received(path, headers, body, verified, status))
        return status

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [message for message in self.received if message.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state.take(self.path, {name.lower(): value for name, value in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def add_endpoint(
    client: TestClient, world: World, receiver: Receiver, path: str, events: list[str], *, who: str = ADMIN
) -> dict[str, Any]:
    """An endpoint (201 asserted) whose secret the receiver then knows."""
    body = {"url": receiver.url(path), "event_types": events, "description": f"{who} {path}"}
    answer = client.post(f"{API}/webhooks", json=body, headers=world.headers(who))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    assert created["secret"].startswith("whsec_")
    receiver.secrets[path] = created["secret"]
    return created


def deliver(client: TestClient, now: datetime) -> int:
    return deliver_due(client.app.state.sessions, now=now)  # type: ignore[attr-defined]


def log_of(client: TestClient, world: World, endpoint: int, who: str = ADMIN, query: str = "") -> list[dict[str, Any]]:
    answer = client.get(f"{API}/webhooks/{endpoint}/deliveries{query}", headers=world.headers(who))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_a_signature_verifies_and_any_changed_byte_or_timestamp_fails() -> None:
    secret = signing.new_secret()
    body = b'{"type":"webhook.test","data":{}}'
    headers = signing.headers(secret, message_id="msg_1", timestamp=1_790_000_000, body=body)
    signing.verify(secret, headers=headers, body=body, now=1_790_000_060)
    for tampered_body, tampered_headers, now in (
        (body.replace(b"test", b"tesu"), headers, 1_790_000_000),
        (body, {**headers, "webhook-timestamp": "1790000001"}, 1_790_000_000),
        (body, {**headers, "webhook-id": "msg_2"}, 1_790_000_000),
        (body, headers, 1_790_000_000 + signing.TOLERANCE_SECONDS + 1),
        (body, {**headers, "webhook-signature": ""}, 1_790_000_000),
    ):
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, headers=tampered_headers, body=tampered_body, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(signing.new_secret(), headers=headers, body=body, now=1_790_000_000)


def test_failed_deliveries_are_retried_on_the_backoff_schedule_and_logged(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    receiver.fail = 3
    endpoint = add_endpoint(client, world, receiver, "/retry", ["case.stage_changed"])["id"]
    queued = client.post(f"{API}/webhooks/{endpoint}/test", headers=world.headers(ADMIN))
    assert queued.status_code == 202, queued.text
    start = datetime.now(UTC)
    times = [start, start + BACKOFF[0], start + BACKOFF[0] + BACKOFF[1], start + BACKOFF[0] + BACKOFF[1] + BACKOFF[2]]
    for attempt, now in enumerate(times, start=1):
        if attempt > 1:
            assert deliver(client, now - timedelta(seconds=1)) == 0, f"attempt {attempt} is not due before {now}"
        assert deliver(client, now) == 1, f"attempt {attempt} is due at {now}"
        assert deliver(client, now) == 0, "nothing more is due"
    (delivery,) = log_of(client, world, endpoint)
    assert delivery["status"] == "delivered"
    assert delivery["next_attempt_at"] is None
    attempts = delivery["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3, 4]
    assert [datetime.fromisoformat(a["at"]) for a in attempts] == times
    assert [a["status_code"] for a in attempts] == [500, 500, 500, 200]
    assert [a["error"] for a in attempts] == ["HTTP 500"] * 3 + [None]
    messages = receiver.at("/retry")
    assert [m.answered for m in messages] == [500, 500, 500, 200]
    assert all(m.verified for m in messages), "every request carries a valid signature"
    assert {m.headers["webhook-id"] for m in messages} == {delivery["message_id"]}, "one message id for all tries"
    assert {m.body for m in messages} == {messages[0].body}
    assert messages[0].event["type"] == "webhook.test"
    assert delivery["payload"] == messages[0].event
    secret, last = receiver.secrets["/retry"], messages[-1]
    tampered = bytearray(last.body)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, headers=last.headers, body=bytes(tampered), now=int(time.time()))
    later = {**last.headers, "webhook-timestamp": str(int(last.headers["webhook-timestamp"]) + 1)}
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, headers=later, body=last.body, now=int(time.time()))


def test_a_delivery_is_given_up_when_the_schedule_runs_out(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    receiver.fail = 1_000
    endpoint = add_endpoint(client, world, receiver, "/down", ["case.stage_changed"])["id"]
    unreachable = client.post(
        f"{API}/webhooks",
        json={"url": "http://127.0.0.1:9/nobody-listens", "event_types": ["case.stage_changed"]},
        headers=world.headers(ADMIN),
    ).json()["id"]
    move(client, world, int(new_case(client, world)["id"]), "filed")
    now = datetime.now(UTC)
    for wait in (timedelta(0), *BACKOFF):
        now += wait
        assert deliver(client, now) == 2
    assert deliver(client, now + timedelta(days=30)) == 0
    for which in (endpoint, unreachable):
        assert log_of(client, world, which, query="?status=pending") == []
        (failed,) = log_of(client, world, which, query="?status=failed")
        assert len(failed["attempts"]) == len(BACKOFF) + 1
        assert failed["next_attempt_at"] is None
    (refused,) = log_of(client, world, unreachable)
    assert {a["status_code"] for a in refused["attempts"]} == {None}
    assert all(a["error"] for a in refused["attempts"]), "the error is logged when the receiver is not reached"
    assert len(receiver.at("/down")) == len(BACKOFF) + 1
    assert all(m.verified for m in receiver.at("/down"))


def test_each_event_reaches_the_endpoints_that_subscribed_and_see_its_unit(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    everything = ["item.received", "case.stage_changed", "deadline.approaching", "deadline.overdue", "alert.raised"]
    add_endpoint(client, world, receiver, "/yichuan", everything)
    add_endpoint(client, world, receiver, "/city", ["case.stage_changed"], who="LY/unit_admin")
    add_endpoint(client, world, receiver, "/songxian", everything, who="LY-SX/unit_admin")
    case = new_case(client, world)
    stages = ("filed", "investigation", "recommendation")
    deadline = move(client, world, int(case["id"]), *stages)["deadlines"][0]
    refused = client.post(
        f"{API}/cases/{case['id']}/transitions", json={"to": "clue"}, headers=world.headers("LY-YC/prosecutor")
    )
    assert refused.status_code == 409, "a refused (rolled back) request sends nothing"
    item = register(client, world, enroll_gateway(client), int(case["id"]), PHOTO)["item"]
    due_at = datetime.fromisoformat(deadline["due_at"])
    with in_session(client) as session:
        assert scan_deadlines(session, now=due_at - timedelta(days=8)) == 0, "not yet approaching"
        assert scan_deadlines(session, now=due_at - timedelta(days=3)) == 1
        assert scan_deadlines(session, now=due_at - timedelta(days=2)) == 0, "announced once"
        assert scan_deadlines(session, now=due_at + timedelta(seconds=1)) == 1
        assert scan_deadlines(session, now=due_at + timedelta(days=9)) == 0, "announced once"
    assert deliver(client, datetime.now(UTC)) == 9
    events = [m.event for m in receiver.at("/yichuan")]
    assert [e["type"] for e in events] == [
        *["case.stage_changed"] * 3,
        "item.received",
        "deadline.approaching",
        "deadline.overdue",
    ]
    assert [(e["data"]["from"], e["data"]["to"]) for e in events[:3]] == [
        ("clue", "filed"),
        ("filed", "investigation"),
        ("investigation", "recommendation"),
    ]
    assert {e["data"]["case"] for e in events} == {case["number"]}
    assert {e["data"]["unit"] for e in events} == {"LY-YC"}
    assert events[3]["data"] | {"item_id": item["id"], "sha256": item["sha256"], "kind": "photo"} == events[3]["data"]
    assert events[5]["data"]["due_at"] == deadline["due_at"], "instants are written as the API writes them"
    assert [m.event["type"] for m in receiver.at("/city")] == ["case.stage_changed"] * 3, "the city sees its counties"
    assert receiver.at("/songxian") == [], "another county gets nothing of LY-YC"
    assert all(m.verified for m in receiver.received)


def test_deadlines_are_not_scanned_while_nobody_wants_them(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    deadline = move(client, world, int(new_case(client, world)["id"]), "filed", "investigation", "recommendation")
    due_at = datetime.fromisoformat(deadline["deadlines"][0]["due_at"])
    add_endpoint(client, world, receiver, "/stages", ["case.stage_changed"])
    with in_session(client) as session:
        assert scan_deadlines(session, now=due_at + timedelta(days=1)) == 0
    add_endpoint(client, world, receiver, "/late", ["deadline.overdue"])
    with in_session(client) as session:
        assert scan_deadlines(session, now=due_at + timedelta(days=1)) == 1
    deliver(client, datetime.now(UTC))
    assert [m.event["type"] for m in receiver.at("/late")] == ["deadline.overdue"]


def test_another_units_endpoints_and_logs_are_not_found(client: TestClient, world: World, receiver: Receiver) -> None:
    endpoint = add_endpoint(client, world, receiver, "/mine", ["item.received"])["id"]
    other = world.headers("LY-SX/unit_admin")
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/test"),
        ("GET", "/deliveries"),
    ):
        body = {"active": False} if method == "PATCH" else None
        theirs = client.request(method, f"{API}/webhooks/{endpoint}{path}", json=body, headers=other)
        missing = client.request(method, f"{API}/webhooks/999999{path}", json=body, headers=other)
        assert theirs.status_code == missing.status_code == 404, (method, path, theirs.text)
        assert theirs.json() == missing.json(), "another unit's endpoint is answered as not existing"
    assert client.get(f"{API}/webhooks", headers=other).json()["items"] == []
    city = client.get(f"{API}/webhooks", headers=world.headers("LY/unit_admin")).json()["items"]
    assert [(e["id"], e["unit"]) for e in city] == [(endpoint, "LY-YC")], "the city sees its counties' endpoints"
    assert "secret" not in city[0], "the secret is shown only when the endpoint is created"
    assert client.get(f"{API}/webhooks/{endpoint}", headers=world.headers(ADMIN)).json()["active"] is True


@pytest.mark.usefixtures("world")  # the units the clients belong to
def test_an_integration_client_needs_the_webhooks_scope_and_stays_in_its_unit(client: TestClient) -> None:
    body = {"url": "https://cms.example.org/hooks", "event_types": ["alert.raised"]}
    scoped = bearer(token(client, *make_client(client, "LY-YC", frozenset({"webhooks:manage"}))))
    created = client.post(f"{API}/webhooks", json=body, headers=scoped)
    assert created.status_code == 201, created.text
    assert created.json()["unit"] == "LY-YC"
    reader = bearer(token(client, *make_client(client, "LY-YC", frozenset({"cases:read"}))))
    refused = client.post(f"{API}/webhooks", json=body, headers=reader)
    assert refused.status_code == 403
    assert client.get(f"{API}/webhooks", headers=reader).status_code == 403
    songxian = bearer(token(client, *make_client(client, "LY-SX", frozenset({"webhooks:manage"}))))
    assert client.get(f"{API}/webhooks/{created.json()['id']}", headers=songxian).status_code == 404
    assert client.get(f"{API}/webhooks", headers=songxian).json()["items"] == []


def test_an_idempotency_key_replays_the_creation(client: TestClient, world: World) -> None:
    body = {"url": "https://cms.example.org/hooks", "event_types": ["item.received"]}
    headers = {**world.headers(ADMIN), "Idempotency-Key": "create-hook-1"}
    first = client.post(f"{API}/webhooks", json=body, headers=headers)
    again = client.post(f"{API}/webhooks", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json(), "the same endpoint and secret, not a second endpoint"
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post(f"{API}/webhooks", json={**body, "event_types": ["alert.raised"]}, headers=headers)
    assert other.status_code == 409
    assert len(client.get(f"{API}/webhooks", headers=world.headers(ADMIN)).json()["items"]) == 1


def test_an_endpoint_changes_with_if_match_and_deleting_it_keeps_its_log(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    endpoint = add_endpoint(client, world, receiver, "/edit", ["item.received"])["id"]
    url, headers = f"{API}/webhooks/{endpoint}", world.headers(ADMIN)
    etag = client.get(url, headers=headers).headers["etag"]
    stale = client.patch(url, json={"event_types": ["case.stage_changed"]}, headers={**headers, "If-Match": '"x"'})
    assert stale.status_code == 412
    changed = client.patch(url, json={"event_types": ["case.stage_changed"]}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["case.stage_changed"]
    assert changed.headers["etag"] != etag
    case = int(new_case(client, world)["id"])
    move(client, world, case, "filed")
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).json()["active"] is False
    assert client.post(f"{url}/test", headers=headers).status_code == 409
    move(client, world, case, "investigation")
    assert deliver(client, datetime.now(UTC)) == 0, "a deactivated endpoint is sent nothing"
    assert [d["event_type"] for d in log_of(client, world, endpoint)] == ["case.stage_changed"], "the log stays"
    assert client.patch(url, json={"active": True}, headers=headers).status_code == 200
    assert deliver(client, datetime.now(UTC)) == 1, "reactivated, it gets what waited"
    assert [m.event["data"]["to"] for m in receiver.at("/edit")] == ["filed"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.org/x", "event_types": ["item.received"]},
        {"url": "https://example.org/a b", "event_types": ["item.received"]},
        {"url": "https://example.org:99999/", "event_types": ["item.received"]},
        {"url": "https://example.org/", "event_types": []},
        {"url": "https://example.org/", "event_types": ["item.deleted"]},
        {"url": "https://example.org/", "event_types": ["item.received"], "secret": "mine"},
    ],
    ids=["not-http", "space", "port", "no-events", "unknown-event", "own-secret"],
)
def test_an_invalid_endpoint_is_refused(client: TestClient, world: World, body: dict[str, Any]) -> None:
    answer = client.post(f"{API}/webhooks", json=body, headers=world.headers(ADMIN))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid"


def test_the_apps_background_worker_delivers(
    client: TestClient, world: World, receiver: Receiver, settings: Settings
) -> None:
    endpoint = add_endpoint(client, world, receiver, "/live", ["item.received"])["id"]
    assert client.post(f"{API}/webhooks/{endpoint}/test", headers=world.headers(ADMIN)).status_code == 202
    live = create_app(settings.model_copy(update={"webhook_worker": True, "webhook_interval": timedelta(seconds=0.05)}))
    try:
        with TestClient(live):
            deadline = time.monotonic() + 20
            while not receiver.at("/live") and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        live.state.engine.dispose()
    (message,) = receiver.at("/live")
    assert message.verified
    assert message.event["type"] == "webhook.test"
    (delivery,) = log_of(client, world, endpoint)
    assert delivery["status"] == "delivered"
