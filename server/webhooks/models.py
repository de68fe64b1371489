"""webhooks: database models.

- ``webhook_endpoints``: a receiver URL of a unit, the event types it wants, and its signing secret (kept: the
  server signs with it); deactivated rather than deleted, so its delivery log stays;
- ``webhook_deliveries``: one event for one endpoint: the exact body, its message id, pending until delivered or
  given up (``failed``), with the time of its next attempt;
- ``webhook_attempts``: every attempt to deliver (when, HTTP status or error, duration); insert-only;
- ``webhook_deadline_notices``: which deadline was announced as approaching or overdue, so each is sent once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, immutable
from server.units.models import Unit
from server.users.models import User


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[str] = mapped_column(String(500))  # space-separated
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship(lazy="selectin")
    creator: Mapped[User] = relationship(lazy="selectin")


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent (and signed) on every attempt
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(order_by="WebhookAttempt.id")


class WebhookAttempt(Base):
    """One try to deliver; never updated or deleted."""

    __tablename__ = immutable("webhook_attempts")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)


class DeadlineNotice(Base):
    """A deadline announced as ``approaching`` or ``overdue``: once each."""

    __tablename__ = "webhook_deadline_notices"
    __table_args__ = (UniqueConstraint("deadline_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
