"""Sensor readings on the server: derived from a registered sensor-batch item (whose raw frames are the evidence),
insert-only, one per (item, device, code, kind, time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, immutable


class Reading(Base):
    __tablename__ = immutable("readings")
    __table_args__ = (UniqueConstraint("item_id", "device", "code", "kind", "measured_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    device: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    flag: Mapped[str | None] = mapped_column(String(4))
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    time_source: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    alt: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    position_source: Mapped[str | None] = mapped_column(String(32))
    fix_age_s: Mapped[float | None] = mapped_column(Float)

    def position(self) -> dict[str, Any] | None:
        """Where it was measured (JSON), or None without a fix."""
        if self.lat is None or self.lon is None:
            return None
        return {
            "lat": self.lat,
            "lon": self.lon,
            "alt": self.alt,
            "accuracy_m": self.accuracy_m,
            "source": self.position_source,
            "fix_age_s": self.fix_age_s,
        }
