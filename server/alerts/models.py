"""Exceedance alerts: one per exceedance episode (``server.alerts.episodes``) of a device's readings of one code,
naming the standard, grade, averaging period, limit, value and ratio. Indicative: a spot reading is not a legal
determination. Insert-only.

``reading_id`` is the first reading of the episode the alert was raised for (unique per standard, grade and
period: one reading starts at most one alert); ``last_reading_id``, ``last_at`` and ``episode_readings`` say how far
the episode had grown when the alert was raised; ``value``, ``ratio`` and the messages are those of its worst
reading then (``peak_reading_id``). Alerts raised before revision 0005 (one per reading) leave the episode columns
empty.
"""

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
    device: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reading_id: Mapped[int | None] = mapped_column(Integer)
    peak_reading_id: Mapped[int | None] = mapped_column(Integer)
    episode_readings: Mapped[int | None] = mapped_column(Integer)
