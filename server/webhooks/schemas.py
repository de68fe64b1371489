"""webhooks: the JSON the API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.cases.schemas import NO_NUL

EventType = Literal["item.received", "alert.raised", "case.stage_changed", "deadline.approaching", "deadline.overdue"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
TEST_EVENT = "webhook.test"  # a ping, sent to the endpoint that asks for it whatever it subscribed to
DeliveryStatus = Literal["pending", "delivered", "failed"]

# http(s), a host name or IPv4 address or [IPv6], an optional port, a path without spaces
URL_PATTERN = r"^https?://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[!-~]*)?$"
Url = Annotated[str, StringConstraints(max_length=2000, pattern=URL_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))]


def _port_in_range(url: str | None) -> None:
    if url is None:
        return
    authority = url.split("://", 1)[1].split("/", 1)[0]
    port = authority.rsplit("]", 1)[-1].partition(":")[2]
    if port and not 1 <= int(port) <= 65535:
        raise ValueError("the URL's port must be 1 to 65535")


class WebhookIn(BaseModel):
    """A new endpoint of your unit: it receives the events of your unit and of the units under it."""

    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="where to POST the events (http or https)")
    event_types: EventTypes = Field(description="the events to send")
    description: Description | None = None

    @model_validator(mode="after")
    def _valid_port(self) -> WebhookIn:
        _port_in_range(self.url)
        return self


class WebhookPatch(BaseModel):
    """Changes to an endpoint: any of url, event_types, description, active (false pauses deliveries)."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _no_null_where_a_value_is_required(self) -> WebhookPatch:
        for name in ("url", "event_types", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (only description can be cleared)")
        _port_in_range(self.url)
        return self


class WebhookOut(BaseModel):
    id: int
    url: str
    event_types: list[EventType]
    description: str | None
    active: bool = Field(description="false: paused or deleted; its deliveries wait, its log stays")
    unit: str = Field(description="code of the unit the endpoint belongs to")
    created_at: datetime
    created_by: str = Field(description="username of the creator")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_…: verifies the webhook-signature of every delivery; shown only now")


class AttemptOut(BaseModel):
    number: int = Field(description="1 for the first attempt")
    at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status, or null when it was not reached")
    error: str | None = Field(description="why the attempt failed, if it did")
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    message_id: str = Field(description="the webhook-id header: the same on every attempt")
    event_type: str
    status: DeliveryStatus = Field(description="pending (will be tried again), delivered, failed (given up)")
    created_at: datetime
    next_attempt_at: datetime | None
    payload: dict[str, Any] = Field(description="the body sent: type, timestamp, data")
    attempts: list[AttemptOut]
