"""campaign: the JSON of ``GET /campaign`` (the CSV and the printable report show the same numbers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.cases.schemas import DOMAINS, Domain
from server.cases.workflow import STAGES, Stage


def _requires(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` saying that every one of ``keys`` is always there (zeros included)."""

    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = list(keys)

    return extra


_EVERY_STAGE = _requires(STAGES)
_EVERY_DOMAIN = _requires(DOMAINS)


class Counts(BaseModel):
    """What the campaign counts for one unit (or for all of them, in ``totals``); docs/api.md defines each."""

    cases: int = Field(ge=0, description="cases opened (created) in the period")
    by_domain: dict[Domain, int] = Field(
        description="those cases by ecological domain (every domain, zeros included)", json_schema_extra=_EVERY_DOMAIN
    )
    by_stage: dict[Stage, int] = Field(
        description="those cases by their current stage (every stage, zeros included)", json_schema_extra=_EVERY_STAGE
    )
    clues_received: int = Field(ge=0, description="clues received in the period (every case begins as a clue)")
    recommendations_issued: int = Field(ge=0, description="moves into stage recommendation in the period")
    recommendations_answered: int = Field(ge=0, description="reply or notice deadlines met in the period")
    recommendations_overdue: int = Field(
        ge=0, description="deadlines started in the period that are overdue now (expired, not met)"
    )
    items_collected: int = Field(ge=0, description="original evidence items registered in the period")
    items_verified: int = Field(ge=0, description="of those items, the ones with at least one `verified` event")
    exceedances: int = Field(ge=0, description="exceedance alerts raised in the period (indicative)")


class UnitCounts(Counts):
    unit: str = Field(description="the unit's code")
    name: str = Field(description="the unit's name")


class CampaignFilters(BaseModel):
    """The filters the numbers answer (null: not filtered)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(alias="from", description="first day of the period (China time), inclusive")
    to: date | None = Field(description="last day of the period (China time), inclusive")
    domain: Domain | None
    unit: str | None


class CampaignOut(BaseModel):
    """The campaign across the units the caller sees: one row per unit (by code) and their totals."""

    filters: CampaignFilters
    totals: Counts
    units: list[UnitCounts]
