"""The spool's SQLite schema, applied in numbered steps (``PRAGMA user_version`` says which have run).

Evidence rules are enforced by the database itself, not only by the code: frames, readings, items and custody
events cannot be updated or deleted (triggers abort), so a bug or a careless script cannot rewrite what a device
sent or what the gateway signed.
"""

from __future__ import annotations

import sqlite3

_IMMUTABLE_TABLES = (
    "frames",
    "readings",
    "items",
    "item_frames",
    "events",
    "fixes",
    "exceedances",
    "reading_positions",
    "media_sources",
    "derivations",
    "visit_notes",
    "enrollments",
    "server_keys",
    "item_cases",
    "visit_cases",
    "receipts",
    "checkpoints",
)

_STEPS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        source TEXT NOT NULL,
        protocol TEXT NOT NULL,
        raw BLOB NOT NULL,
        raw_sha256 TEXT NOT NULL,
        received_at TEXT NOT NULL,          -- gateway clock, UTC, ISO 8601 with Z
        device_time TEXT,                   -- as the device sent it (HJ 212 DataTime is local, no zone)
        visit TEXT,
        error TEXT,                         -- why the frame is not valid (kept: it is what was received)
        distinct_by TEXT NOT NULL DEFAULT '',  -- for frames without time or counter (Modbus): the poll instant
        UNIQUE (device, raw_sha256, distinct_by)
    );
    CREATE TABLE readings (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        device TEXT NOT NULL,
        code TEXT NOT NULL,
        kind TEXT NOT NULL,
        value REAL,
        unit TEXT,
        flag TEXT,
        original_code TEXT,
        measured_at TEXT NOT NULL,          -- UTC instant: device time resolved with its zone, else receive time
        time_source TEXT NOT NULL,          -- device-rtc or gateway-clock
        device_lat REAL, device_lon REAL, device_alt REAL,   -- the monitor's own coordinates, if it sent them
        UNIQUE (device, code, kind, measured_at)
    );
    CREATE TABLE fixes (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        at TEXT NOT NULL,                   -- GNSS time, UTC
        received_at TEXT NOT NULL,          -- gateway clock when the sentence arrived
        lat REAL NOT NULL, lon REAL NOT NULL, alt REAL,
        quality INTEGER, satellites INTEGER, hdop REAL,
        source TEXT NOT NULL,
        UNIQUE (source, at)
    );
    CREATE TABLE exceedances (
        id INTEGER PRIMARY KEY,
        reading_id INTEGER NOT NULL REFERENCES readings(id),
        standard TEXT NOT NULL, grade TEXT NOT NULL, averaging TEXT NOT NULL,
        limit_json TEXT NOT NULL,
        value REAL NOT NULL, ratio REAL NOT NULL,
        message_zh TEXT NOT NULL, message_en TEXT NOT NULL,
        UNIQUE (reading_id, standard, grade, averaging)
    );
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        name TEXT NOT NULL,
        device TEXT,
        visit TEXT,
        created_at TEXT NOT NULL,
        metadata TEXT NOT NULL              -- canonical JSON: capture time, place and their sources, etc.
    );
    CREATE TABLE item_frames (
        item_id TEXT NOT NULL REFERENCES items(id),
        frame_id INTEGER NOT NULL UNIQUE REFERENCES frames(id),
        PRIMARY KEY (item_id, frame_id)
    );
    CREATE TABLE events (
        item_id TEXT NOT NULL REFERENCES items(id),
        seq INTEGER NOT NULL,
        event BLOB NOT NULL,                -- the canonical signed event bytes
        event_hash TEXT NOT NULL,
        PRIMARY KEY (item_id, seq)
    );
    CREATE INDEX frames_unsealed ON frames (device, visit, id);
    CREATE INDEX readings_frame ON readings (frame_id);
    CREATE INDEX fixes_at ON fixes (at);
    """,
    """
    -- Where each reading was taken, fixed when its batch is sealed (the visit's track is then complete).
    CREATE TABLE reading_positions (
        reading_id INTEGER PRIMARY KEY REFERENCES readings(id),
        lat REAL NOT NULL, lon REAL NOT NULL, alt REAL,
        accuracy_m REAL,
        source TEXT NOT NULL,               -- device-gnss (the monitor's own) or gateway-gnss-track
        fix_age_s REAL NOT NULL,            -- seconds between the reading and the fix used
        interpolated INTEGER NOT NULL,
        clock_offset_s REAL                 -- GNSS time minus gateway clock, applied to the receive time
    );
    """,
    """
    -- Media imported from cameras and phones: where each item's bytes were read from.
    CREATE TABLE media_sources (
        item_id TEXT NOT NULL REFERENCES items(id),
        source_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        modified_at TEXT NOT NULL,          -- the source file's modification time, as the filesystem gives it
        imported_at TEXT NOT NULL,
        PRIMARY KEY (item_id, source_path)
    );
    -- A derivative (a geotagged copy, say) and the original it was made from.
    CREATE TABLE derivations (
        item_id TEXT PRIMARY KEY REFERENCES items(id),
        derived_from TEXT NOT NULL REFERENCES items(id),
        how TEXT NOT NULL
    );
    -- What an import found about a visit: gaps in a camera's file sequence numbers, clock drift.
    CREATE TABLE visit_notes (
        id INTEGER PRIMARY KEY,
        visit TEXT,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,                 -- sequence-gap, clock-drift
        detail TEXT NOT NULL,               -- canonical JSON
        noted_at TEXT NOT NULL
    );
    CREATE INDEX items_sha256 ON items (sha256);
    """,
    """
    -- Sync (device_gateway.sync). The gateway's enrollment with a server, and the server's log key, pinned the
    -- first time it is fetched: a server that later signs with another key is refused.
    CREATE TABLE enrollments (
        server TEXT PRIMARY KEY,            -- the server's base URL, as given to enroll
        device_id INTEGER NOT NULL,         -- the server's id for this gateway
        key_id TEXT NOT NULL,               -- the gateway key that was enrolled
        unit TEXT NOT NULL,
        enrolled_at TEXT NOT NULL
    );
    CREATE TABLE server_keys (
        server TEXT PRIMARY KEY REFERENCES enrollments(server),
        verifier_key TEXT NOT NULL,         -- C2SP signed-note verifier key of the server's checkpoints
        pinned_at TEXT NOT NULL
    );
    -- Which case each item is filed under on the server (fixed before its upload starts), and the visits whose
    -- items follow their first filing.
    CREATE TABLE item_cases (
        item_id TEXT PRIMARY KEY REFERENCES items(id),
        case_id INTEGER NOT NULL,
        filed_at TEXT NOT NULL
    );
    CREATE TABLE visit_cases (
        visit TEXT PRIMARY KEY,
        case_id INTEGER NOT NULL,
        filed_at TEXT NOT NULL
    );
    -- What the server accepted: its received event, where it is in the log, the proof and the checkpoint.
    CREATE TABLE receipts (
        item_id TEXT PRIMARY KEY REFERENCES items(id),
        server TEXT NOT NULL,
        log_index INTEGER NOT NULL,
        received_event BLOB NOT NULL,       -- the server's signed event, canonical bytes
        inclusion TEXT NOT NULL,            -- canonical JSON: index, size, leaf_hash, proof, root (base64)
        checkpoint TEXT NOT NULL,           -- the signed note the proof leads to
        stored_at TEXT NOT NULL
    );
    -- Every checkpoint seen from a server, each proved consistent with those seen before it.
    CREATE TABLE checkpoints (
        server TEXT NOT NULL,
        size INTEGER NOT NULL,
        root TEXT NOT NULL,                 -- base64
        note TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (server, size)
    );
    -- Bookkeeping of work in progress (mutable): an item's tus upload, the last error, readings sent.
    CREATE TABLE sync_state (
        item_id TEXT PRIMARY KEY REFERENCES items(id),
        upload_url TEXT,                    -- stored before the first byte is sent: a restart resumes it
        upload_offset INTEGER NOT NULL DEFAULT 0,
        upload_id TEXT,                     -- set when the server holds every byte (hash matched)
        readings_through INTEGER NOT NULL DEFAULT 0,  -- readings up to this id are on the server
        error TEXT,                         -- why the last attempt failed
        updated_at TEXT NOT NULL
    );
    """,
)


def migrate(connection: sqlite3.Connection) -> None:
    """Apply every schema step not yet applied, each with its triggers in one transaction."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    for number, step in enumerate(_STEPS[version:], start=version + 1):
        with connection:
            connection.executescript("BEGIN;" + step)  # stays open: committed with the triggers and version
            for statement in _immutability_triggers(connection):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")


def _immutability_triggers(connection: sqlite3.Connection) -> list[str]:
    existing = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} are evidence: never updated or deleted'); END"
        for table in _IMMUTABLE_TABLES
        if table in existing
        for action in ("UPDATE", "DELETE")
    ]


SCHEMA_VERSION = len(_STEPS)
