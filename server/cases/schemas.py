"""cases: the JSON the API takes and gives."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.cases.deadlines import DeadlineKind
from server.cases.workflow import Stage

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters

Domain = Literal["air", "water", "land", "forest", "mineral", "wetland", "wildlife", "other"]
CaseType = Literal["administrative", "civil"]
DOMAINS: tuple[str, ...] = get_args(Domain)
CASE_TYPES: tuple[str, ...] = get_args(CaseType)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=NO_NUL)]
Description = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4_000, pattern=NO_NUL)]
UnitCode = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]


class CaseIn(BaseModel):
    """A new case. It belongs to the caller's unit unless ``unit`` names one under it (city users)."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    domain: Domain
    type: CaseType = Field(description="administrative (against an agency) or civil (against a polluter)")
    description: Description | None = None
    urgent: bool = Field(default=False, description="urgent recommendations get 15 days instead of 2 months")
    unit: UnitCode | None = Field(default=None, description="code of the unit the case belongs to; default: yours")


class CasePatch(BaseModel):
    """Changes to a case: any of title, description, urgent, domain (the stage changes only by transitions)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    urgent: bool | None = None
    domain: Domain | None = None

    @model_validator(mode="after")
    def _no_null_where_a_value_is_required(self) -> CasePatch:
        for name in ("title", "urgent", "domain"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (only description can be cleared)")
        return self


class DeadlineOut(BaseModel):
    kind: DeadlineKind = Field(description="reply (administrative recommendation) or notice (civil 公告)")
    started_at: datetime
    due_date: date = Field(description="the last day of the period, China Standard Time")
    due_at: datetime = Field(description="when the period expires: 24:00 China time of due_date, in UTC")
    met_at: datetime | None = Field(description="when the case moved on from the stage")
    overdue: bool


class CaseOut(BaseModel):
    id: int
    number: str = Field(description="UNIT-YEAR-SEQUENCE, e.g. LY-YC-2026-0007")
    title: str
    description: str | None
    domain: Domain
    type: CaseType
    urgent: bool
    stage: Stage
    next_stages: list[Stage] = Field(description="the stages a transition may move the case to now")
    unit: str = Field(description="code of the unit the case belongs to")
    created_at: datetime
    created_by: str = Field(description="username of the creator")
    deadlines: list[DeadlineOut]


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Stage
    note: Note | None = Field(default=None, description="why; required (non-empty) when closing the case")


class TransitionOut(BaseModel):
    """One recorded stage change (JSON keys ``from`` and ``to``)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    id: int
    from_stage: Stage = Field(alias="from")
    to: Stage
    at: datetime
    by: str = Field(description="username of who moved the case")
    note: str | None

    @classmethod
    def of(cls, **fields: Any) -> TransitionOut:
        """Build one from ``from_stage=`` and the other fields."""
        return cls.model_validate(fields)
