"""ledger: the global custody log's tables, all append-only (the database refuses UPDATE, DELETE and TRUNCATE).

- ``log_entries``: one row per leaf of the RFC 9162 log: the custody event's canonical bytes, its SHA-256 and its
  leaf hash, at leaf index ``index``; (item_id, seq) is unique, so an event is logged once.
- ``log_nodes``: the hashes of the log's perfect subtrees, node (level, index) covering leaves
  [index * 2**level, (index + 1) * 2**level); level 0 holds the leaf hashes. Proofs and roots read O(log n) of them.
- ``log_checkpoints``: every signed checkpoint the server gave out, one per tree size (so it can never sign two
  roots for one size), with the signed-note text.

There is no mutable counter: the log's size is the number of level-0 nodes (``MAX(index) + 1``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evidence.custody import CustodyEvent
from server.db import Base, UTCDateTime, immutable

# SQLite makes an INTEGER PRIMARY KEY the table's rowid (no second index); PostgreSQL gets a 64-bit column.
LogIndex = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(Base):
    """A custody event as leaf ``index`` of the global log."""

    __tablename__ = immutable("log_entries")
    __table_args__ = (UniqueConstraint("item_id", "seq", name="uq_log_entries_item_seq"),)

    index: Mapped[int] = mapped_column(LogIndex, primary_key=True, autoincrement=False)
    item_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[bytes] = mapped_column(LargeBinary)  # canonical event bytes: the leaf data
    event_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of ``event`` (the next event's ``prev``)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256(0x00 || event)
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def custody_event(self) -> CustodyEvent:
        """The event parsed from its stored canonical bytes."""
        return CustodyEvent.from_bytes(self.event)


class LogNode(Base):
    """The hash of one perfect subtree of the log."""

    __tablename__ = immutable("log_nodes")
    __table_args__ = ({"sqlite_with_rowid": False},)  # clustered by (level, index): one B-tree, no rowid

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(Base):
    """A signed checkpoint the server issued: at most one per tree size."""

    __tablename__ = immutable("log_checkpoints")

    size: Mapped[int] = mapped_column(LogIndex, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)  # the C2SP signed note, as served
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
