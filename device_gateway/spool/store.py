"""The spool: a durable local store of everything the gateway received, under ``--data DIR``.

``DIR/spool.sqlite3`` (SQLite, WAL journal, ``synchronous=FULL``: a frame acknowledged to a device or broker has
reached the disk) holds frames exactly as received, readings derived from them, GNSS fixes, exceedances, evidence
items and their signed custody events; ``DIR/blobs`` holds item bytes by SHA-256. Writers batch many frames
into one transaction, so durability costs one fsync per batch rather than per frame.

Duplicates are stored once: a frame whose bytes the same device already sent (an MQTT redelivery, a logger's
resend) is recognised by its SHA-256; a reading already known for (device, code, kind, time) is not added again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from device_gateway.errors import SpoolError
from device_gateway.gps import Fix
from device_gateway.spool.records import FrameRecord, StoredFrame, Warn
from device_gateway.spool.schema import migrate
from device_gateway.spool.writer import BatchOutcome, Row, make_row, write_batch
from evidence.custody import format_utc
from evidence.hashing import ContentStore

__all__ = ["DATABASE", "FrameRecord", "Spool", "StoredFrame", "Warn", "utc_text"]

DATABASE = "spool.sqlite3"


class Spool:
    """The gateway's local store. One instance per process writes; others may read at the same time (WAL)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.blobs = ContentStore(root / "blobs")
            self.connection = _connect(root / DATABASE)
            migrate(self.connection)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the spool in {root}: {exc}") from exc

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside is committed together, or nothing is."""
        try:
            with self.connection:
                yield self.connection
        except sqlite3.Error as exc:
            raise SpoolError(f"spool write failed: {exc}") from exc

    def store_frames(self, records: Sequence[FrameRecord], warn: Warn | None = None) -> list[StoredFrame]:
        """Store frames, their readings and (via ``warn``) the readings' exceedances in one transaction.

        Duplicates are recognised and skipped; only new readings are checked against limits.
        """
        rows = [make_row(index, record) for index, record in enumerate(records)]
        with self.transaction() as db:
            db.execute("BEGIN IMMEDIATE")  # the batch assigns row ids: no other writer may slip in between
            stored = write_batch(db, rows, warn)
        return [_outcome(row, stored.get(row.index)) for row in rows]

    def meta(self, key: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta_once(self, key: str, value: str) -> str:
        """Set a meta value unless one exists; return the value now stored."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        stored = self.meta(key)
        assert stored is not None
        return stored

    def fixes(self) -> list[Fix]:
        rows = self.connection.execute(
            "SELECT at, lat, lon, alt, quality, satellites, hdop, source FROM fixes ORDER BY at"
        ).fetchall()
        return [Fix(datetime.fromisoformat(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]


def _outcome(row: Row, stored: BatchOutcome | None) -> StoredFrame:
    if stored is None or row.frame_id is None:
        return StoredFrame(row.record, None)
    new_readings, exceedances = stored
    return StoredFrame(row.record, row.frame_id, tuple(new_readings), tuple(exceedances))


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def utc_text(moment: datetime) -> str:
    return format_utc(moment)
