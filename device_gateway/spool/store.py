"""The spool: a durable local store of everything the gateway received, under ``--data DIR``.

``DIR/spool.sqlite3`` (SQLite, WAL journal, ``synchronous=FULL``: a frame acknowledged to a device or broker has
reached the disk) holds frames exactly as received, readings derived from them, GNSS fixes, exceedances, evidence
items and their signed custody events; ``DIR/blobs`` holds item bytes by SHA-256. Writers batch many frames
into one transaction, so durability costs one fsync per batch rather than per frame.

Duplicates are stored once: a frame whose bytes the same device already sent (an MQTT redelivery, a logger's
resend) is recognised by its SHA-256; a reading already known for (device, code, kind, time) is not added again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from device_gateway.errors import SpoolError
from device_gateway.gps import Fix
from device_gateway.spool.schema import migrate
from evidence.canonical import canonical_text
from evidence.custody import format_utc
from evidence.hashing import ContentStore
from evidence.readings import Reading
from evidence.standards import Exceedance

DATABASE = "spool.sqlite3"
Warn = Callable[[str, Reading], list[Exceedance]]  # (device, new reading) -> the limits it exceeds


@dataclass(frozen=True)
class FrameRecord:
    """One frame as a source received it, with what was derived from it."""

    device: str
    source: str
    protocol: str
    raw: bytes
    received_at: datetime
    measured_at: datetime | None = None  # device time resolved to an instant; None: use received_at
    device_time: str | None = None  # as the device sent it
    readings: tuple[Reading, ...] = ()
    fix: Fix | None = None
    device_position: tuple[float, float, float | None] | None = None
    error: str | None = None
    visit: str | None = None
    # Identical bytes from a device are one frame sent twice, unless the protocol carries no time or counter
    # (a Modbus response to the same registers): then each poll is its own observation, told apart by this.
    distinct_by: str = ""


@dataclass(frozen=True)
class StoredFrame:
    """What storing one FrameRecord did: its row (None if a duplicate) and the readings that were new."""

    record: FrameRecord
    frame_id: int | None
    new_readings: tuple[tuple[int, Reading], ...] = field(default=())
    exceedances: tuple[tuple[Reading, Exceedance], ...] = field(default=())

    @property
    def duplicate(self) -> bool:
        return self.frame_id is None


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
        with self.transaction() as db:
            return [_store_frame(db, record, warn) for record in records]

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


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def utc_text(moment: datetime) -> str:
    return format_utc(moment)


def _store_frame(db: sqlite3.Connection, record: FrameRecord, warn: Warn | None) -> StoredFrame:
    digest = hashlib.sha256(record.raw).hexdigest()
    cursor = db.execute(
        "INSERT OR IGNORE INTO frames (device, source, protocol, raw, raw_sha256, received_at, device_time, visit,"
        " error, distinct_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.device,
            record.source,
            record.protocol,
            record.raw,
            digest,
            utc_text(record.received_at),
            record.device_time,
            record.visit,
            record.error,
            record.distinct_by,
        ),
    )
    if cursor.rowcount == 0:
        return StoredFrame(record, None)
    frame_id = int(cursor.lastrowid or 0)
    if record.fix is not None:
        _store_fix(db, frame_id, record.fix, record.received_at)
    new_readings = tuple(_store_readings(db, frame_id, record))
    exceedances = tuple(
        (reading, exceedance)
        for reading_id, reading in new_readings
        for exceedance in (warn(record.device, reading) if warn else [])
        if _store_exceedance(db, reading_id, exceedance)
    )
    return StoredFrame(record, frame_id, new_readings, exceedances)


def _store_readings(db: sqlite3.Connection, frame_id: int, record: FrameRecord) -> Iterator[tuple[int, Reading]]:
    measured_at = record.measured_at or record.received_at
    time_source = "device-rtc" if record.measured_at is not None else "gateway-clock"
    lat, lon, alt = record.device_position or (None, None, None)
    for reading in record.readings:
        cursor = db.execute(
            "INSERT OR IGNORE INTO readings (frame_id, device, code, kind, value, unit, flag, original_code,"
            " measured_at, time_source, device_lat, device_lon, device_alt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                frame_id,
                record.device,
                reading.code,
                reading.kind,
                reading.value,
                reading.unit,
                reading.flag,
                reading.original_code,
                utc_text(measured_at),
                time_source,
                lat,
                lon,
                alt,
            ),
        )
        if cursor.rowcount:
            yield int(cursor.lastrowid or 0), reading


def _store_exceedance(db: sqlite3.Connection, reading_id: int, exceedance: Exceedance) -> bool:
    limit = exceedance.limit
    cursor = db.execute(
        "INSERT OR IGNORE INTO exceedances (reading_id, standard, grade, averaging, limit_json, value, ratio,"
        " message_zh, message_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reading_id,
            limit.standard,
            limit.grade,
            limit.averaging,
            canonical_text(exceedance.to_json()),
            exceedance.value,
            exceedance.ratio,
            exceedance.message_zh(),
            exceedance.message_en(),
        ),
    )
    return cursor.rowcount > 0


def _store_fix(db: sqlite3.Connection, frame_id: int, fix: Fix, received_at: datetime) -> None:
    db.execute(
        "INSERT OR IGNORE INTO fixes (frame_id, at, received_at, lat, lon, alt, quality, satellites, hdop, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            frame_id,
            utc_text(fix.at),
            utc_text(received_at),
            fix.lat,
            fix.lon,
            fix.alt,
            fix.quality,
            fix.satellites,
            fix.hdop,
            fix.source,
        ),
    )
