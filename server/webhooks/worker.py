"""Sending the queued deliveries, and announcing deadlines: run by a background thread of every server worker.

``deliver_due`` (1) claims the deliveries that are due in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers never take the same one; SQLite serializes writers anyway) and leases them for
``LEASE``, (2) POSTs each one, signed, with no transaction open, (3) records the attempt in a second transaction:
a 2xx answer delivers it; anything else schedules the next attempt after ``BACKOFF[n - 1]``, until the schedule
runs out and the delivery is given up (``failed``). A worker that dies mid-delivery leaves its lease to expire:
delivery is at least once, and the ``webhook-id`` lets receivers drop a repeat.

``scan_deadlines`` announces each unmet deadline once as ``deadline.approaching`` (``APPROACHING`` before it is
due) and once as ``deadline.overdue``; a unique notice row per deadline and kind keeps it to once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx
from fastapi import FastAPI
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from server.cases.models import Case, Deadline
from server.db import transaction
from server.webhooks import signing
from server.webhooks.models import DeadlineNotice, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from server.webhooks.service import emit

log = logging.getLogger(__name__)

# The wait after the 1st, 2nd, … failed attempt (the Standard Webhooks schedule); after the last, it is given up.
BACKOFF: Final = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
LEASE: Final = timedelta(minutes=2)  # a claimed delivery is not claimed again before this (timeout + margin)
TIMEOUT_SECONDS: Final = 10.0
BATCH: Final = 20
APPROACHING: Final = timedelta(days=7)
DEADLINE_EVENTS: Final = ("deadline.approaching", "deadline.overdue")


@dataclass(frozen=True)
class Claimed:
    """What sending one attempt needs, read while the delivery was claimed."""

    delivery_id: int
    number: int
    url: str
    secret: str
    message_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver_due(sessions: sessionmaker[Session], *, now: datetime, http: httpx.Client | None = None) -> int:
    """Attempt every delivery due at ``now`` once; return how many attempts were made."""
    own = http is None
    client = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) if http is None else http
    made = 0
    try:
        while batch := _claim(sessions, now=now):
            for claimed in batch:
                _record(sessions, claimed, _post(client, claimed), now=now)
                made += 1
    finally:
        if own:
            client.close()
    return made


def _claim(sessions: sessionmaker[Session], *, now: datetime) -> list[Claimed]:
    """1. Take up to ``BATCH`` due deliveries of active endpoints, and lease them."""
    query = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    with transaction(sessions) as session:
        claimed = []
        for delivery, endpoint in session.execute(query):
            delivery.next_attempt_at = now + LEASE
            claimed.append(
                Claimed(
                    delivery.id,
                    delivery.attempts + 1,
                    endpoint.url,
                    endpoint.secret,
                    delivery.message_id,
                    delivery.body.encode(),
                )
            )
        return claimed


def _post(client: httpx.Client, claimed: Claimed) -> Outcome:
    """2. POST the body, signed now, with no transaction open."""
    signed = signing.headers(
        claimed.secret, message_id=claimed.message_id, timestamp=int(time.time()), body=claimed.body
    )
    started = time.monotonic()
    try:
        answer = client.post(claimed.url, content=claimed.body, headers=signed)
        status, error = answer.status_code, None if answer.is_success else f"HTTP {answer.status_code}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


def _record(sessions: sessionmaker[Session], claimed: Claimed, outcome: Outcome, *, now: datetime) -> None:
    """3. The attempt goes to the log; the delivery is delivered, retried later, or given up."""
    with transaction(sessions) as session:
        delivery = session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
        if delivery is None:  # pragma: no cover - deliveries are never deleted
            return
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=claimed.number,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempts = claimed.number
        if outcome.delivered:
            delivery.status, delivery.next_attempt_at = "delivered", None
        elif claimed.number <= len(BACKOFF):
            delivery.next_attempt_at = now + BACKOFF[claimed.number - 1]
        else:
            delivery.status, delivery.next_attempt_at = "failed", None


def scan_deadlines(session: Session, *, now: datetime) -> int:
    """Announce the unmet deadlines that became approaching or overdue by ``now``; return how many were announced.

    Nothing is scanned while no active endpoint wants deadline events (no notice is recorded either)."""
    if not _anyone_wants_deadlines(session):
        return 0
    overdue = Deadline.due_at <= now
    approaching = (Deadline.due_at > now) & (Deadline.due_at <= now + APPROACHING)
    announced = 0
    for kind, due in (("overdue", overdue), ("approaching", approaching)):
        noticed = exists().where(DeadlineNotice.deadline_id == Deadline.id, DeadlineNotice.kind == kind)
        query = (
            select(Deadline, Case)
            .join(Case, Deadline.case_id == Case.id)
            .where(Deadline.met_at.is_(None), due, ~noticed)
            .order_by(Deadline.id)
        )
        for deadline, case in session.execute(query).all():
            announced += _announce(session, deadline=deadline, case=case, kind=kind, now=now)
    return announced


def _anyone_wants_deadlines(session: Session) -> bool:
    query = select(WebhookEndpoint.event_types).where(WebhookEndpoint.active.is_(True))
    return any(event in types.split() for types in session.scalars(query) for event in DEADLINE_EVENTS)


def _announce(session: Session, *, deadline: Deadline, case: Case, kind: str, now: datetime) -> int:
    try:
        with session.begin_nested():
            session.add(DeadlineNotice(deadline_id=deadline.id, kind=kind, at=now))
    except IntegrityError:
        return 0  # another worker announced it first
    data: dict[str, object] = {
        "case_id": case.id,
        "case": case.number,
        "deadline": deadline.kind,
        "stage": deadline.stage,
        "due_date": deadline.due_date,
        "due_at": deadline.due_at,
    }
    emit(session, unit_id=case.unit_id, event_type=f"deadline.{kind}", data=data)
    return 1


class WebhookWorker:
    """A daemon thread: every ``interval``, announce deadlines and send what is due. Errors are logged, never
    raised: one bad tick must not stop deliveries for good."""

    def __init__(self, sessions: sessionmaker[Session], *, interval: timedelta) -> None:
        self.sessions = sessions
        self.interval = interval.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)
        self._http = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=TIMEOUT_SECONDS + 5)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        try:
            now = datetime.now(UTC)
            with transaction(self.sessions) as session:
                scan_deadlines(session, now=now)
            deliver_due(self.sessions, now=now, http=self._http)
        except Exception:
            log.exception("the webhook worker's tick failed; it runs again in %.1f s", self.interval)


@asynccontextmanager
async def webhook_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: its webhook worker runs while it serves, if ``settings.webhook_worker``."""
    settings = app.state.settings
    if not settings.webhook_worker:
        yield
        return
    worker = WebhookWorker(app.state.sessions, interval=settings.webhook_interval)
    worker.start()
    try:
        yield
    finally:
        await run_in_threadpool(worker.stop)
