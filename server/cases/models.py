"""cases: database models.

- ``cases``: one public-interest case of a unit, with its current stage;
- ``case_transitions``: every stage change (who, when, from, to, note); insert-only, enforced by triggers;
- ``case_deadlines``: the deadlines a stage started (the reply to a recommendation, the civil notice period);
- ``case_counters``: the last case number given per unit and year (row-locked while a number is taken).

A case's ``limits`` (a list of ``{"standard", "grade"}``, names as ``evidence.limit_tables`` spells them) choose the
grade its readings are compared with per standard; ``auto_clue`` makes each exceedance episode open a clue.

Times are UTC instants (``UTCDateTime``: aware on both databases).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, immutable
from server.units.models import Unit
from server.users.models import User


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str] = mapped_column(String(16), index=True)
    type: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    limits: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    auto_clue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    unit: Mapped[Unit] = relationship(lazy="selectin")
    creator: Mapped[User] = relationship(lazy="selectin")
    deadlines: Mapped[list[Deadline]] = relationship(lazy="selectin", order_by="Deadline.id", back_populates="case")


class CaseTransition(Base):
    """One stage change; never updated or deleted."""

    __tablename__ = immutable("case_transitions")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(lazy="selectin")


class Deadline(Base):
    """A period a stage started; met when the case moves on from that stage."""

    __tablename__ = "case_deadlines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="deadlines")


class CaseCounter(Base):
    """The last sequence number given to a case of ``unit_id`` in ``year`` (China time)."""

    __tablename__ = "case_counters"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)
