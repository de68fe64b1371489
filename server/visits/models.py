"""visits: database models.

A visit is one trip of investigators to a site of a case over a time range, with the devices they used. Its
investigators (at least two: the electronic-data rules ask for collection by two) are users of the case's unit;
devices are free ids for now (the devices table arrives later).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime
from server.users.models import User

visit_investigators = Table(
    "visit_investigators",
    Base.metadata,
    Column("visit_id", ForeignKey("visits.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))

    creator: Mapped[User] = relationship(lazy="selectin", foreign_keys=[created_by])
    investigators: Mapped[list[User]] = relationship(
        secondary=visit_investigators, lazy="selectin", order_by=User.username
    )
    devices: Mapped[list[VisitDevice]] = relationship(lazy="selectin", order_by="VisitDevice.device_id")


class VisitDevice(Base):
    """A device used during a visit, by its id (serial number, HJ 212 MN, camera id...)."""

    __tablename__ = "visit_devices"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(100), primary_key=True)
