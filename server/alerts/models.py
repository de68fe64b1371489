"""Exceedance alerts: a reading over a national limit, naming the standard, grade, averaging period, limit, value
and ratio. Indicative: a spot reading is not a legal determination. Insert-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, immutable


class Alert(Base):
    __tablename__ = immutable("alerts")
    __table_args__ = (UniqueConstraint("reading_id", "standard", "grade", "averaging"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reading_id: Mapped[int] = mapped_column(ForeignKey("readings.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    code: Mapped[str] = mapped_column(String(32))
    standard: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str] = mapped_column(String(16))
    averaging: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float | None] = mapped_column(Float)
    limit: Mapped[dict[str, object]] = mapped_column(JSON)
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
