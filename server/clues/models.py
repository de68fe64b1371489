"""Clues: where a case at stage ``clue`` came from. Insert-only: what was submitted is never rewritten.

A clue *is* a case at its first stage (``server.cases.workflow``): the case holds title, description, domain,
unit and stage, and the clue's attachments are the case's evidence items. This table keeps what only a clue has:
its source, the platform and its reference there, the place it names, and who submitted it. Accepting a clue is
the transition ``clue → filed``; dismissing it is ``clue → closed`` with the reason as the transition's note.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.cases.models import Case
from server.db import Base, UTCDateTime, immutable
from server.users.models import User


class Clue(Base):
    __tablename__ = immutable("clues")
    # A platform's own number for a clue is taken once per submitter: a resubmission is refused, not doubled.
    __table_args__ = (UniqueConstraint("submitted_by", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    platform: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200))
    place_name: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(lazy="selectin")
    submitter: Mapped[User] = relationship(lazy="selectin")
