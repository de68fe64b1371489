"""Evidence items as registered: what the bytes are (SHA-256, size, kind), whose case, when and where captured and
how that is known. Insert-only: an item is evidence; what happens to it later is custody, recorded in the log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, immutable

KINDS = ("photo", "video", "audio", "sensor-batch", "document", "note")


class Item(Base):
    __tablename__ = immutable("items")

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the id the collector gave it (events name it)
    seq_no: Mapped[int] = mapped_column(Integer, unique=True)  # registration order, for stable pagination
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)  # files of several GiB
    media_type: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    captured_offset: Mapped[str | None] = mapped_column(String(8))  # the capture zone's offset, e.g. +08:00
    time_source: Mapped[str | None] = mapped_column(String(32))
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    alt: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(32))
    fix_age_s: Mapped[float | None] = mapped_column(Float)
    device_key_id: Mapped[str | None] = mapped_column(String(64))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    derived_from: Mapped[str | None] = mapped_column(ForeignKey("items.id"))
    collected_by: Mapped[list[str]] = mapped_column(JSON)
    registered_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_index: Mapped[int] = mapped_column(Integer)  # log index of the server's `received` event
    request_hash: Mapped[str] = mapped_column(String(64))  # of the registration, to answer retries
