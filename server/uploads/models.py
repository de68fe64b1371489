"""uploads: one row per tus upload, from creation to its end (complete, failed, terminated or expired).

The bytes of an upload in progress are in its partial file (``upload_dir/{id}.part``), whose size *is* the upload's
offset: no offset is stored here, so the two can never disagree. A complete upload's bytes are a blob in the store,
under ``received_sha256`` (always equal to the declared ``sha256``: a mismatch fails the upload).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base

RECEIVING = "receiving"
COMPLETE = "complete"
FAILED = "failed"
TERMINATED = "terminated"
EXPIRED = "expired"
STATUSES = (RECEIVING, COMPLETE, FAILED, TERMINATED, EXPIRED)


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_status_expires", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 128 random bits, hex
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # declared by the client at creation
    filename: Mapped[str | None] = mapped_column(String(255))
    metadata_header: Mapped[str] = mapped_column(Text)  # Upload-Metadata as sent, for HEAD
    status: Mapped[str] = mapped_column(String(16), default=RECEIVING)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # moves on with every PATCH
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_sha256: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(Text)  # why it failed, for a person
