"""Read-side views of the spool for ``fieldproof gateway status`` and the sync client."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

SYNC_STATES = ("pending", "uploading", "synced", "failed")


@dataclass(frozen=True)
class DeviceStatus:
    device: str
    protocols: str
    frames: int
    invalid_frames: int
    readings: int
    exceedances: int
    first_received_at: str
    last_received_at: str


@dataclass(frozen=True)
class ItemStatus:
    item_id: str
    kind: str
    name: str
    device: str | None
    visit: str | None
    sha256: str
    size: int
    frames: int
    created_at: str
    sync: str  # pending, uploading, synced (the server's receipt is kept) or failed
    log_index: int | None = None  # synced: where the server's received event is in its log
    uploaded: int | None = None  # uploading: bytes the server confirmed
    reason: str | None = None  # failed: why the last attempt failed


@dataclass(frozen=True)
class SpoolStatus:
    devices: list[DeviceStatus]
    items: list[ItemStatus]
    frames: int
    readings: int
    exceedances: int
    unsealed_frames: int

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "readings": self.readings,
            "exceedances": self.exceedances,
            "unsealed_frames": self.unsealed_frames,
            "pending_sync": sum(1 for item in self.items if item.sync != "synced"),
            "sync": {state: sum(1 for item in self.items if item.sync == state) for state in SYNC_STATES},
            "devices": [asdict(device) for device in self.devices],
            "items": [asdict(item) for item in self.items],
        }


def spool_status(db: sqlite3.Connection) -> SpoolStatus:
    return SpoolStatus(
        devices=_devices(db),
        items=_items(db),
        frames=_count(db, "SELECT COUNT(*) FROM frames"),
        readings=_count(db, "SELECT COUNT(*) FROM readings"),
        exceedances=_count(db, "SELECT COUNT(*) FROM exceedances"),
        unsealed_frames=_count(db, "SELECT COUNT(*) FROM frames WHERE id NOT IN (SELECT frame_id FROM item_frames)"),
    )


def _count(db: sqlite3.Connection, query: str) -> int:
    return int(db.execute(query).fetchone()[0])


def _devices(db: sqlite3.Connection) -> list[DeviceStatus]:
    rows = db.execute(
        """
        SELECT f.device, GROUP_CONCAT(DISTINCT f.protocol), COUNT(*), SUM(f.error IS NOT NULL),
               (SELECT COUNT(*) FROM readings r WHERE r.device = f.device),
               (SELECT COUNT(*) FROM exceedances e JOIN readings r ON r.id = e.reading_id WHERE r.device = f.device),
               MIN(f.received_at), MAX(f.received_at)
        FROM frames f GROUP BY f.device ORDER BY f.device
        """
    ).fetchall()
    return [DeviceStatus(*row) for row in rows]


def _items(db: sqlite3.Connection) -> list[ItemStatus]:
    rows = db.execute(
        """
        SELECT i.id, i.kind, i.name, i.device, i.visit, i.sha256, i.size,
               (SELECT COUNT(*) FROM item_frames x WHERE x.item_id = i.id), i.created_at,
               r.log_index, s.upload_url, s.upload_offset, s.error
        FROM items i LEFT JOIN receipts r ON r.item_id = i.id LEFT JOIN sync_state s ON s.item_id = i.id
        ORDER BY i.created_at, i.id
        """
    ).fetchall()
    return [_item_status(r) for r in rows]


def _item_status(r: tuple[Any, ...]) -> ItemStatus:
    log_index, upload_url, uploaded, error = r[9:]
    if log_index is not None:
        sync, uploaded, error = "synced", None, None
    elif error is not None:
        sync, uploaded = "failed", None
    elif upload_url is not None:
        sync = "uploading"
    else:
        sync, uploaded = "pending", None
    return ItemStatus(
        item_id=r[0],
        kind=r[1],
        name=r[2],
        device=r[3],
        visit=r[4],
        sha256=r[5],
        size=r[6],
        frames=r[7],
        created_at=r[8],
        sync=sync,
        log_index=log_index,
        uploaded=uploaded,
        reason=error,
    )


@dataclass(frozen=True)
class ReadingRow:
    """A reading as the gateway holds it, with where it was taken (None when no fix was near enough)."""

    reading_id: int
    device: str
    code: str
    kind: str
    value: float | None
    unit: str | None
    flag: str | None
    measured_at: str
    time_source: str
    position: dict[str, Any] | None


_READING_SELECT = """
    SELECT r.id, r.device, r.code, r.kind, r.value, r.unit, r.flag, r.measured_at, r.time_source,
           p.lat, p.lon, p.alt, p.accuracy_m, p.source, p.fix_age_s, p.interpolated
    FROM readings r LEFT JOIN reading_positions p ON p.reading_id = r.id
"""


def reading_rows(db: sqlite3.Connection, *, device: str | None = None) -> list[ReadingRow]:
    rows = db.execute(
        _READING_SELECT + " WHERE ? IS NULL OR r.device = ? ORDER BY r.id",
        (device, device),
    ).fetchall()
    return [_reading_row(r) for r in rows]


def item_readings(db: sqlite3.Connection, item_id: str, *, after: int = 0, limit: int = 10_000) -> list[ReadingRow]:
    """The readings derived from a sensor-batch item's frames, by id, after the id ``after``."""
    rows = db.execute(
        _READING_SELECT + " JOIN item_frames x ON x.frame_id = r.frame_id"
        " WHERE x.item_id = ? AND r.id > ? ORDER BY r.id LIMIT ?",
        (item_id, after, limit),
    ).fetchall()
    return [_reading_row(r) for r in rows]


def _reading_row(r: tuple[Any, ...]) -> ReadingRow:
    return ReadingRow(
        reading_id=r[0],
        device=r[1],
        code=r[2],
        kind=r[3],
        value=r[4],
        unit=r[5],
        flag=r[6],
        measured_at=r[7],
        time_source=r[8],
        position=_position(r[9:]),
    )


def _position(values: tuple[Any, ...]) -> dict[str, Any] | None:
    lat, lon, alt, accuracy, source, age, interpolated = values
    if lat is None:
        return None
    return {
        "lat": lat,
        "lon": lon,
        "alt": alt,
        "accuracy_m": accuracy,
        "source": source,
        "fix_age_s": age,
        "interpolated": bool(interpolated),
    }
