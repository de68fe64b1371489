"""Reading batches in, readings and alerts out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.api import Moment
from server.cases.schemas import NO_NUL


class PositionIn(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float | None = None
    accuracy_m: float | None = Field(default=None, ge=0)
    source: str = Field(pattern="^(device-gnss|gateway-gnss-track|manual)$")
    fix_age_s: float | None = Field(default=None, ge=0)


class ReadingIn(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    device: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    code: str = Field(min_length=1, max_length=32, pattern=NO_NUL)
    kind: str = Field(default="Rtd", min_length=1, max_length=16, pattern=NO_NUL)
    value: float | None
    unit: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    flag: str | None = Field(default=None, max_length=4, pattern=NO_NUL)
    measured_at: Moment
    time_source: str = Field(default="device-rtc", pattern="^(device-rtc|gateway-clock)$")
    position: PositionIn | None = None


class ReadingBatch(BaseModel):
    item_id: str = Field(
        max_length=64, pattern=NO_NUL, description="the registered sensor-batch item these readings derive from"
    )
    readings: list[ReadingIn] = Field(min_length=1, max_length=10_000)


class BatchResult(BaseModel):
    stored: int
    duplicates: int
    alerts: int


class ReadingOut(BaseModel):
    id: int
    item_id: str
    device: str
    code: str
    kind: str
    value: float | None
    unit: str | None
    flag: str | None
    measured_at: datetime
    time_source: str
    position: dict[str, Any] | None


class AlertOut(BaseModel):
    """One alert: one exceedance episode of a device's readings of one code (see ``server.alerts.episodes``)."""

    id: int
    case_id: int
    reading_id: int = Field(description="the first reading of the episode")
    device: str | None
    code: str
    kind: str | None
    standard: str
    grade: str
    averaging: str
    value: float = Field(description="the episode's worst value when the alert was raised, in the limit's unit")
    ratio: float | None
    limit: dict[str, Any]
    message_zh: str
    message_en: str
    started_at: datetime | None = Field(description="when the episode's first reading was measured")
    last_at: datetime | None = Field(description="the episode's last reading when the alert was raised")
    last_reading_id: int | None
    peak_reading_id: int | None
    episode_readings: int | None = Field(description="how many readings the episode had when the alert was raised")
    clue_case_id: int | None = Field(description="the clue (case) the alert opened, when the case has auto_clue")
    indicative: bool = True
    created_at: datetime
