"""Clues: the JSON the API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.cases.schemas import NO_NUL, CaseType, Description, Domain, Note, Title, UnitCode

# 举报投诉, 行政执法衔接平台, 刑事案件, 媒体报道, 自动预警, 巡查发现, 其他
ClueSource = Literal["complaint", "platform", "criminal-case", "media", "early-warning", "inspection", "other"]
CLUE_SOURCES: tuple[str, ...] = get_args(ClueSource)
ClueStatus = Literal["pending", "accepted", "dismissed"]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]


class PlaceIn(BaseModel):
    """Where the clue points: a description, and WGS-84 coordinates when known."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates_or_neither(self) -> PlaceIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon (WGS-84), or neither")
        return self


class ClueIn(BaseModel):
    """A clue submitted by a case system, a data-sharing platform or a person. Its attachments are uploaded and
    registered afterwards as evidence items of ``case_id`` (the answer's), like any item."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    domain: Domain
    type: CaseType = Field(default="administrative", description="administrative or civil, as far as known")
    description: Description | None = None
    source: ClueSource = Field(description="where the clue came from")
    platform: Text200 | None = Field(
        default=None, description="the platform it came through, e.g. 行政执法与行政检察衔接平台"
    )
    reference: Text200 | None = Field(
        default=None, description="its number on that platform: the same submitter cannot submit it twice"
    )
    place: PlaceIn | None = None
    urgent: bool = False
    unit: UnitCode | None = Field(default=None, description="code of the unit it is for; default: yours")


class DecisionOut(BaseModel):
    at: datetime
    by: str = Field(description="username of who decided")
    note: str | None = Field(description="the reason (always given for a dismissal)")


class ClueOut(BaseModel):
    id: int
    case_id: int = Field(description="the case the clue is (stage clue until accepted); attach evidence to it")
    case_number: str
    unit: str = Field(description="code of the unit the clue is for")
    title: str
    description: str | None
    domain: Domain
    type: CaseType
    source: ClueSource
    platform: str | None
    reference: str | None
    place: PlaceIn | None
    status: ClueStatus = Field(description="pending (stage clue), accepted (filed or later), dismissed (closed)")
    decision: DecisionOut | None = Field(description="the acceptance or dismissal, when there is one")
    stage: str = Field(description="the stage of its case now")
    items: int = Field(description="how many evidence items are attached")
    submitted_by: str
    submitted_at: datetime


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = Field(default=None, description="why it is accepted (optional)")


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4_000, pattern=NO_NUL)]
