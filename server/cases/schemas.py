"""cases: the JSON the API takes and gives."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from evidence.errors import UnknownStandardError
from evidence.limit_tables import resolve
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


class LimitChoice(BaseModel):
    """The class/grade of one national standard this case compares readings with (names as the tables spell them)."""

    model_config = ConfigDict(extra="forbid")

    standard: str = Field(max_length=64, pattern=NO_NUL, description="e.g. GB 3095-2012 (see evidence.limit_tables)")
    grade: str = Field(max_length=32, pattern=NO_NUL, description="e.g. I, II, III-lake, 4a (二级, Ⅲ类 also read)")

    @model_validator(mode="after")
    def _known_to_the_tables(self) -> LimitChoice:
        try:
            standard, grade, _ = resolve(self.standard, self.grade)
        except UnknownStandardError as exc:
            raise ValueError(str(exc)) from exc
        self.standard, self.grade = standard.name, grade  # the tables' own spelling
        return self


def _one_grade_per_standard(choices: list[LimitChoice] | None) -> list[LimitChoice] | None:
    names = [choice.standard for choice in choices or ()]
    if len(names) != len(set(names)):
        raise ValueError(f"choose one grade per standard, not several: {', '.join(names)}")
    return choices


Limits = Annotated[
    list[LimitChoice],
    Field(max_length=8, description="per standard, the grade readings are compared with (default: the standard's)"),
    AfterValidator(_one_grade_per_standard),
]
AutoClue = Annotated[bool, Field(description="open a clue (with the readings attached) for each exceedance episode")]


class CaseIn(BaseModel):
    """A new case. It belongs to the caller's unit unless ``unit`` names one under it (city users)."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    domain: Domain
    type: CaseType = Field(description="administrative (against an agency) or civil (against a polluter)")
    description: Description | None = None
    urgent: bool = Field(default=False, description="urgent recommendations get 15 days instead of 2 months")
    unit: UnitCode | None = Field(default=None, description="code of the unit the case belongs to; default: yours")
    limits: Limits = Field(default_factory=list)
    auto_clue: AutoClue = False


class CasePatch(BaseModel):
    """Changes to a case: any of title, description, urgent, domain, limits, auto_clue (the stage changes only by
    transitions)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    urgent: bool | None = None
    domain: Domain | None = None
    limits: Limits | None = None
    auto_clue: AutoClue | None = None

    @model_validator(mode="after")
    def _no_null_where_a_value_is_required(self) -> CasePatch:
        for name in ("title", "urgent", "domain", "limits", "auto_clue"):
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
    limits: list[LimitChoice] = Field(description="the grades chosen per standard for early warning")
    auto_clue: bool = Field(description="whether each exceedance episode opens a clue automatically")


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
