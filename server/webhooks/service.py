"""webhooks: endpoints of a unit, and the events queued for them.

``emit`` is what other services call when something happens: it queues one delivery per active endpoint that
subscribed to the event and sees its unit (an endpoint of unit U gets the events of U and of the units under it),
in the caller's transaction, so an event of a request that is rolled back never goes out. ``server.webhooks.worker``
sends them. Unit isolation lives in ``visible_endpoint`` and ``endpoint_query``: another unit's endpoint is *not
found*, never forbidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from server.auth import Principal
from server.errors import ApiError, not_found
from server.units.models import Unit
from server.webhooks import signing
from server.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from server.webhooks.schemas import TEST_EVENT, AttemptOut, DeliveryOut, WebhookIn, WebhookOut


def visible_endpoint(
    session: Session, *, principal: Principal, endpoint_id: int, lock: bool = False
) -> WebhookEndpoint:
    """The endpoint, if the principal's units include its unit; else 404 (its existence is not revealed)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=lock or None)
    if endpoint is None or not principal.sees(endpoint.unit_id):
        raise not_found("webhook endpoint")
    return endpoint


def endpoint_query(principal: Principal) -> Select[Any]:
    return select(WebhookEndpoint).where(WebhookEndpoint.unit_id.in_(sorted(principal.visible_units)))


def create_endpoint(session: Session, *, principal: Principal, data: WebhookIn, now: datetime) -> WebhookEndpoint:
    """A new active endpoint of the principal's unit, with a new signing secret."""
    endpoint = WebhookEndpoint(
        unit_id=principal.unit_id,
        url=data.url,
        description=data.description,
        event_types=_joined(data.event_types),
        secret=signing.new_secret(),
        active=True,
        created_at=now,
        created_by=principal.user_id,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def update_endpoint(session: Session, *, endpoint: WebhookEndpoint, changes: dict[str, Any]) -> WebhookEndpoint:
    """Apply the given fields (already validated: url, event_types, description, active)."""
    for name, value in changes.items():
        setattr(endpoint, name, _joined(value) if name == "event_types" else value)
    session.flush()
    return endpoint


def queue_test(session: Session, *, endpoint: WebhookEndpoint, now: datetime) -> WebhookDelivery:
    """Queue a ``webhook.test`` ping to an active endpoint."""
    if not endpoint.active:
        raise ApiError(409, "the webhook endpoint is not active", code="webhook_inactive")
    return _enqueue(session, endpoint=endpoint, event_type=TEST_EVENT, data={"endpoint_id": endpoint.id}, now=now)


def deliveries_query(endpoint: WebhookEndpoint, *, status: str | None) -> Select[Any]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return query.options(selectinload(WebhookDelivery.attempt_log))


def emit(session: Session, *, unit_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Queue ``event_type`` with ``data`` for every endpoint that subscribed to it and sees ``unit_id``."""
    units = _unit_and_above(session, unit_id)
    if not units:
        return
    data = {"unit": units[0].code, **data}
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.active.is_(True), WebhookEndpoint.unit_id.in_([unit.id for unit in units])
    )
    now = datetime.now(UTC)
    for endpoint in session.scalars(query.order_by(WebhookEndpoint.id)):
        if event_type in endpoint.event_types.split():
            _enqueue(session, endpoint=endpoint, event_type=event_type, data=data, now=now)


def _unit_and_above(session: Session, unit_id: int) -> list[Unit]:
    """The unit, its parent, the parent's parent…: the units whose endpoints see its events."""
    chain: list[Unit] = []
    current = session.get(Unit, unit_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = None if current.parent_id is None else session.get(Unit, current.parent_id)
    return chain


def _enqueue(
    session: Session, *, endpoint: WebhookEndpoint, event_type: str, data: dict[str, Any], now: datetime
) -> WebhookDelivery:
    body = {"type": event_type, "timestamp": now, "data": data}
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        message_id=signing.new_message_id(),
        event_type=event_type,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_value),
        created_at=now,
        status="pending",
        attempts=0,
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


def _json_value(value: object) -> str:
    """Instants as the API writes them (UTC, with ``Z``), dates as ISO dates, anything else as text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _joined(event_types: Iterable[str]) -> str:
    return " ".join(sorted(set(event_types)))


def render_endpoint(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        event_types=endpoint.event_types.split(),  # type: ignore[arg-type]  # validated on the way in
        description=endpoint.description,
        active=endpoint.active,
        unit=endpoint.unit.code,
        created_at=endpoint.created_at,
        created_by=endpoint.creator.username,
    )


def render_delivery(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        status=delivery.status,  # type: ignore[arg-type]  # set only by this package
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at,
        payload=json.loads(delivery.body),
        attempts=[_render_attempt(attempt) for attempt in delivery.attempt_log],
    )


def _render_attempt(attempt: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        number=attempt.number,
        at=attempt.at,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
    )
