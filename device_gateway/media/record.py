"""Writing imported media into the spool: items, where they came from, custody events, derivations, visit notes.

Each item is written in one transaction with its source record and its custody events, so the spool never holds
an item without its chain, nor a chain without its item. Visit notes are written once: importing the same card
again notes the same sequence gap only once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from device_gateway.spool import Spool
from device_gateway.spool.store import utc_text
from evidence.canonical import canonical_text
from evidence.custody import CustodyEvent


@dataclass(frozen=True)
class MediaItem:
    item_id: str
    kind: str
    sha256: str
    size: int
    media_type: str
    name: str
    device: str
    visit: str | None
    metadata: Mapping[str, Any]


def item_with_hash(db: sqlite3.Connection, sha256: str) -> str | None:
    """The id of an item already holding these bytes, if any."""
    row = db.execute("SELECT id FROM items WHERE sha256 = ? ORDER BY created_at LIMIT 1", (sha256,)).fetchone()
    return None if row is None else str(row[0])


def last_event(db: sqlite3.Connection, item_id: str) -> CustodyEvent:
    row = db.execute("SELECT event FROM events WHERE item_id = ? ORDER BY seq DESC LIMIT 1", (item_id,)).fetchone()
    return CustodyEvent.from_bytes(row[0])


def record_item(
    spool: Spool,
    item: MediaItem,
    events: Sequence[CustodyEvent],
    *,
    now: datetime,
    source: tuple[str, int, str] | None = None,
    derived_from: tuple[str, str] | None = None,
    original_event: CustodyEvent | None = None,
) -> None:
    """Write an item with its events (and, for imports, its source; for derivatives, its original) atomically."""
    with spool.transaction() as db:
        db.execute(
            "INSERT INTO items (id, kind, sha256, size, media_type, name, device, visit, created_at, metadata)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.item_id,
                item.kind,
                item.sha256,
                item.size,
                item.media_type,
                item.name,
                item.device,
                item.visit,
                utc_text(now),
                canonical_text(dict(item.metadata)),
            ),
        )
        _insert_events(db, [*events, *([original_event] if original_event else [])])
        if source is not None:
            path, size, modified_at = source
            db.execute(
                "INSERT INTO media_sources (item_id, source_path, size, modified_at, imported_at) VALUES (?,?,?,?,?)",
                (item.item_id, path, size, modified_at, utc_text(now)),
            )
        if derived_from is not None:
            db.execute(
                "INSERT INTO derivations (item_id, derived_from, how) VALUES (?, ?, ?)",
                (item.item_id, *derived_from),
            )


def note_visit(
    spool: Spool, *, visit: str | None, device: str, kind: str, detail: Mapping[str, Any], now: datetime
) -> bool:
    """Record what an import found about a visit, unless the same note is there already; say if it was new."""
    text = canonical_text(dict(detail))
    with spool.transaction() as db:
        exists = db.execute(
            "SELECT 1 FROM visit_notes WHERE visit IS ? AND device = ? AND kind = ? AND detail = ?",
            (visit, device, kind, text),
        ).fetchone()
        if exists:
            return False
        db.execute(
            "INSERT INTO visit_notes (visit, device, kind, detail, noted_at) VALUES (?, ?, ?, ?, ?)",
            (visit, device, kind, text, utc_text(now)),
        )
    return True


def _insert_events(db: sqlite3.Connection, events: Sequence[CustodyEvent]) -> None:
    db.executemany(
        "INSERT INTO events (item_id, seq, event, event_hash) VALUES (?, ?, ?, ?)",
        [(e.item_id, e.seq, e.to_bytes(), e.event_hash) for e in events],
    )
