"""visits: the JSON the API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.api import MAX_ID, Moment
from server.cases.schemas import NO_NUL

Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)]
DeviceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)]
Note = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: int = Field(ge=1, le=MAX_ID, description="id of a site of this case")
    started_at: Moment = Field(description="ISO 8601 with a UTC offset")
    ended_at: Moment = Field(description="ISO 8601 with a UTC offset; after started_at")
    investigators: list[Username] = Field(
        max_length=50,
        description="usernames of at least two distinct investigators or prosecutors of the case's unit",
    )
    devices: list[DeviceId] = Field(default_factory=list, max_length=200, description="ids of the devices used")
    note: Note | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> VisitIn:
        if self.ended_at <= self.started_at:
            raise ValueError("ended_at must be after started_at")
        return self


class VisitOut(BaseModel):
    id: int
    case: int = Field(description="the case's id")
    site: int = Field(description="the site's id")
    started_at: datetime
    ended_at: datetime
    investigators: list[str] = Field(description="usernames, sorted")
    devices: list[str] = Field(description="device ids, sorted")
    note: str | None
    created_at: datetime
    created_by: str
