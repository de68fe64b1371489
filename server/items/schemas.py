"""Item registration and representation (JSON): file digests in lowercase hex; log hashes in base64."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evidence.canonical import canonical_bytes
from evidence.custody import PLACE_SOURCES, TIME_SOURCES
from evidence.errors import CanonicalJSONError
from server.api import MAX_ID, Moment
from server.cases.schemas import NO_NUL
from server.items.models import KINDS

_KIND = "^(" + "|".join(KINDS) + ")$"
_TIME_SOURCE = "^(" + "|".join(TIME_SOURCES) + ")$"
_PLACE_SOURCE = "^(" + "|".join(sorted(PLACE_SOURCES)) + ")$"


class LocationIn(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float | None = None
    accuracy_m: float | None = Field(default=None, ge=0)
    source: str = Field(pattern=_PLACE_SOURCE)
    fix_age_s: float | None = Field(default=None, ge=0)


class RegisterItem(BaseModel):
    """What registration takes. It must have a canonical JSON form (RFC 8785): its hash identifies the request."""

    model_config = ConfigDict(allow_inf_nan=False)

    item_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", description="the id the collector gave it")
    case_id: int = Field(ge=1, le=MAX_ID)
    upload_id: str | None = Field(default=None, max_length=64, pattern=NO_NUL, description="a completed tus upload")
    sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$", description="or: a blob the server holds")
    kind: str = Field(pattern=_KIND)
    media_type: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    name: str = Field(min_length=1, max_length=500, pattern=NO_NUL)
    captured_at: Moment | None = None
    time_source: str | None = Field(default=None, pattern=_TIME_SOURCE)
    clock_offset_s: float | None = None
    location: LocationIn | None = None
    visit_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    derived_from: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    collected_by: list[Annotated[str, Field(max_length=100, pattern=NO_NUL)]] = Field(
        default_factory=list, max_length=20
    )
    events: list[dict[str, Any]] = Field(
        default_factory=list, max_length=1000, description="the item's signed custody events so far, in order"
    )

    @model_validator(mode="after")
    def _has_a_canonical_form(self) -> RegisterItem:
        try:
            canonical_bytes(self.events)  # as sent: integers beyond 2**53, NaN, lone surrogates have no form
            canonical_bytes(self.model_dump(mode="json"))
        except CanonicalJSONError as exc:
            raise ValueError(f"the registration has no canonical JSON form (RFC 8785): {exc}") from exc
        return self


class Geofence(BaseModel):
    status: str  # inside, outside, unknown (no place or no site)
    distance_m: float | None
    site_id: int | None


class ItemOut(BaseModel):
    id: str
    case_id: int
    kind: str
    sha256: str
    size: int
    media_type: str
    name: str
    captured_at: datetime | None
    time_source: str | None
    clock_offset_s: float | None
    location: dict[str, Any] | None
    geofence: Geofence
    log_index: int
    device_key_id: str | None
    visit_id: int | None
    derived_from: str | None
    collected_by: list[str]
    registered_by: str
    registered_at: datetime


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    proof: list[str]
    root: str


class Receipt(BaseModel):
    """What a collector keeps to prove what the server accepted: its signed event, where it is in the log, the
    proof of that, and the signed checkpoint the proof leads to."""

    received_event: dict[str, Any]
    log_index: int
    inclusion: InclusionOut
    checkpoint: str


class Registered(BaseModel):
    item: ItemOut
    receipt: Receipt
    created: bool


class CustodyEntry(BaseModel):
    log_index: int
    event: dict[str, Any]


class Check(BaseModel):
    step: str
    ok: bool
    detail: str


class Verification(BaseModel):
    item_id: str
    valid: bool
    checks: list[Check]
