"""What the spool knows about syncing: the enrollment, the pinned server key, case filings, uploads in progress,
receipts and checkpoints seen. Receipts, checkpoints, filings and the enrollment are insert-only (the schema's
triggers refuse rewrites); ``sync_state`` is the mutable bookkeeping of work in progress."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from device_gateway.spool import Spool
from device_gateway.spool.store import utc_text
from evidence.canonical import canonical_text, loads
from evidence.custody import CustodyEvent


@dataclass(frozen=True)
class Enrollment:
    server: str
    device_id: int
    key_id: str
    unit: str


@dataclass(frozen=True)
class SyncItem:
    """An item as registration needs it."""

    item_id: str
    kind: str
    sha256: str
    size: int
    media_type: str
    name: str
    visit: str | None
    metadata: dict[str, Any]
    derived_from: str | None


@dataclass(frozen=True)
class UploadState:
    url: str | None
    offset: int
    upload_id: str | None
    readings_through: int


@dataclass(frozen=True)
class SeenCheckpoint:
    size: int
    root: str  # base64
    note: str


def _now() -> str:
    return utc_text(datetime.now(UTC))


def enrollment(db: sqlite3.Connection, server: str) -> Enrollment | None:
    row = db.execute("SELECT server, device_id, key_id, unit FROM enrollments WHERE server = ?", (server,)).fetchone()
    return None if row is None else Enrollment(*row)


def record_enrollment(spool: Spool, entry: Enrollment) -> None:
    with spool.transaction() as db:
        db.execute(
            "INSERT INTO enrollments (server, device_id, key_id, unit, enrolled_at) VALUES (?, ?, ?, ?, ?)",
            (entry.server, entry.device_id, entry.key_id, entry.unit, _now()),
        )


def pinned_key(db: sqlite3.Connection, server: str) -> str | None:
    row = db.execute("SELECT verifier_key FROM server_keys WHERE server = ?", (server,)).fetchone()
    return None if row is None else str(row[0])


def pin_key(spool: Spool, server: str, verifier_key: str) -> None:
    with spool.transaction() as db:
        db.execute(
            "INSERT INTO server_keys (server, verifier_key, pinned_at) VALUES (?, ?, ?)", (server, verifier_key, _now())
        )


def items_to_sync(db: sqlite3.Connection) -> list[SyncItem]:
    """Items without a receipt: originals before their derivatives, then in the order they were made."""
    rows = db.execute(
        """
        SELECT i.id, i.kind, i.sha256, i.size, i.media_type, i.name, i.visit, i.metadata, d.derived_from
        FROM items i LEFT JOIN derivations d ON d.item_id = i.id
        WHERE i.id NOT IN (SELECT item_id FROM receipts)
        ORDER BY d.derived_from IS NOT NULL, i.created_at, i.id
        """
    ).fetchall()
    return [
        SyncItem(
            item_id=r[0],
            kind=r[1],
            sha256=r[2],
            size=r[3],
            media_type=r[4],
            name=r[5],
            visit=r[6],
            metadata=loads(r[7]),
            derived_from=r[8],
        )
        for r in rows
    ]


def case_of(db: sqlite3.Connection, item: SyncItem) -> int | None:
    """The case an item is filed under: its own filing, else its visit's."""
    row = db.execute("SELECT case_id FROM item_cases WHERE item_id = ?", (item.item_id,)).fetchone()
    if row is None and item.visit is not None:
        row = db.execute("SELECT case_id FROM visit_cases WHERE visit = ?", (item.visit,)).fetchone()
    return None if row is None else int(row[0])


def file_item(spool: Spool, item: SyncItem, case_id: int) -> None:
    """File an item (and, the first time, its visit) under a case: fixed from now on."""
    with spool.transaction() as db:
        db.execute("INSERT OR IGNORE INTO item_cases VALUES (?, ?, ?)", (item.item_id, case_id, _now()))
        if item.visit is not None:
            db.execute("INSERT OR IGNORE INTO visit_cases VALUES (?, ?, ?)", (item.visit, case_id, _now()))


def events_of(db: sqlite3.Connection, item_id: str) -> list[CustodyEvent]:
    rows = db.execute("SELECT event FROM events WHERE item_id = ? ORDER BY seq", (item_id,)).fetchall()
    return [CustodyEvent.from_bytes(bytes(row[0])) for row in rows]


def upload_state(db: sqlite3.Connection, item_id: str) -> UploadState:
    row = db.execute(
        "SELECT upload_url, upload_offset, upload_id, readings_through FROM sync_state WHERE item_id = ?", (item_id,)
    ).fetchone()
    return UploadState(None, 0, None, 0) if row is None else UploadState(*row)


def save_progress(spool: Spool, item_id: str, **fields: Any) -> None:
    """Update an item's bookkeeping (upload_url, upload_offset, upload_id, readings_through, error)."""
    allowed = {"upload_url", "upload_offset", "upload_id", "readings_through", "error"}
    if not set(fields) <= allowed:
        raise ValueError(f"unknown sync_state fields: {sorted(set(fields) - allowed)}")
    names = ", ".join(f"{name} = :{name}" for name in fields)
    with spool.transaction() as db:
        db.execute("INSERT OR IGNORE INTO sync_state (item_id, updated_at) VALUES (?, ?)", (item_id, _now()))
        db.execute(
            f"UPDATE sync_state SET {names}, updated_at = :now WHERE item_id = :item_id",  # noqa: S608 (names checked)
            {**fields, "now": _now(), "item_id": item_id},
        )


def seen_checkpoints(db: sqlite3.Connection, server: str) -> list[SeenCheckpoint]:
    rows = db.execute("SELECT size, root, note FROM checkpoints WHERE server = ? ORDER BY size", (server,)).fetchall()
    return [SeenCheckpoint(*row) for row in rows]


def store_receipt(
    spool: Spool, *, item_id: str, server: str, received: CustodyEvent, receipt: dict[str, Any], seen: SeenCheckpoint
) -> None:
    """The receipt and its checkpoint, in one transaction; the item's error is cleared."""
    with spool.transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO checkpoints (server, size, root, note, seen_at) VALUES (?, ?, ?, ?, ?)",
            (server, seen.size, seen.root, seen.note, _now()),
        )
        db.execute(
            "INSERT INTO receipts (item_id, server, log_index, received_event, inclusion, checkpoint, stored_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                server,
                receipt["log_index"],
                received.to_bytes(),
                canonical_text(receipt["inclusion"]),
                receipt["checkpoint"],
                _now(),
            ),
        )
        db.execute("UPDATE sync_state SET error = NULL WHERE item_id = ?", (item_id,))


def store_checkpoint(spool: Spool, server: str, seen: SeenCheckpoint) -> None:
    with spool.transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO checkpoints (server, size, root, note, seen_at) VALUES (?, ?, ?, ?, ?)",
            (server, seen.size, seen.root, seen.note, _now()),
        )


def synced_batches(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """Sensor-batch items on the server whose readings may not all be: (item id, readings sent through)."""
    rows = db.execute(
        """
        SELECT i.id, COALESCE(s.readings_through, 0) FROM items i
        JOIN receipts r ON r.item_id = i.id LEFT JOIN sync_state s ON s.item_id = i.id
        WHERE i.kind = 'sensor-batch' AND EXISTS (
            SELECT 1 FROM item_frames x JOIN readings g ON g.frame_id = x.frame_id
            WHERE x.item_id = i.id AND g.id > COALESCE(s.readings_through, 0))
        ORDER BY i.created_at, i.id
        """
    ).fetchall()
    return [(str(item_id), int(through)) for item_id, through in rows]
