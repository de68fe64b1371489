"""Storing a batch of frames in a few statements: the spool's write path.

One statement per frame and per reading cost more than everything else the gateway does with a frame, so a batch
is written set-wise: duplicates are found with one query per device (frames) or per channel (readings), new rows
get their ids here (the batch holds the database's write lock, taken with ``BEGIN IMMEDIATE``, so no other writer
can take the same ids), and each table gets one ``executemany``. The rules are those of ``store``: a frame whose
bytes the device already sent is a duplicate; a reading already held for (device, code, kind, time) is not added;
exceedances of new readings are stored with them, in the same transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from device_gateway.spool.records import FrameRecord, Warn
from evidence.canonical import canonical_text
from evidence.custody import format_utc
from evidence.readings import Reading
from evidence.standards import Exceedance

_CHUNK = 500  # SQLite's limit on bound parameters is far above this
BatchOutcome = tuple[list[tuple[int, Reading]], list[tuple[Reading, Exceedance]]]


@dataclass
class Row:
    """A frame on its way in, with what the batch learns about it."""

    index: int
    record: FrameRecord
    device: str
    sha256: str
    distinct_by: str
    received_at: str
    measured_at: str
    time_source: str
    frame_id: int | None = None


def write_batch(db: sqlite3.Connection, rows: Sequence[Row], warn: Warn | None) -> dict[int, BatchOutcome]:
    """Insert the batch; return, per stored row index, its new readings (with ids) and their exceedances."""
    new_rows = _new_frames(db, rows)
    _insert_frames(db, new_rows)
    readings = _new_readings(db, new_rows)
    _insert_readings(db, readings)
    exceedances = _insert_exceedances(db, readings, warn)
    _insert_fixes(db, new_rows)
    result: dict[int, BatchOutcome] = {row.index: ([], []) for row in new_rows}
    for row, reading_id, reading in readings:
        result[row.index][0].append((reading_id, reading))
    for row, reading, exceedance in exceedances:
        result[row.index][1].append((reading, exceedance))
    return result


def make_row(index: int, record: FrameRecord) -> Row:
    received = format_utc(record.received_at)
    measured = received if record.measured_at is None else format_utc(record.measured_at)
    return Row(
        index=index,
        record=record,
        device=record.device,
        sha256=hashlib.sha256(record.raw).hexdigest(),
        distinct_by=record.distinct_by,
        received_at=received,
        measured_at=measured,
        time_source="gateway-clock" if record.measured_at is None else "device-rtc",
    )


def _next_id(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])  # noqa: S608


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _new_frames(db: sqlite3.Connection, rows: Sequence[Row]) -> list[Row]:
    """The rows whose (device, bytes, distinct_by) is neither stored nor earlier in the batch; ids assigned."""
    seen = _stored_frame_keys(db, rows)
    next_id = _next_id(db, "frames")
    new_rows = []
    for row in rows:
        key = (row.device, row.sha256, row.distinct_by)
        if key in seen:
            continue
        seen.add(key)
        row.frame_id, next_id = next_id, next_id + 1
        new_rows.append(row)
    return new_rows


def _stored_frame_keys(db: sqlite3.Connection, rows: Sequence[Row]) -> set[tuple[str, str, str]]:
    by_device: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_device[row.device].append(row.sha256)
    keys: set[tuple[str, str, str]] = set()
    for device, hashes in by_device.items():
        for chunk in _chunks(hashes):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT raw_sha256, distinct_by FROM frames WHERE device = ? AND raw_sha256 IN ({marks})"  # noqa: S608
            keys.update((device, sha, distinct) for sha, distinct in db.execute(query, (device, *chunk)))
    return keys


def _insert_frames(db: sqlite3.Connection, rows: Sequence[Row]) -> None:
    db.executemany(
        "INSERT INTO frames (id, device, source, protocol, raw, raw_sha256, received_at, device_time, visit, error,"
        " distinct_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                row.frame_id,
                row.device,
                r.source,
                r.protocol,
                r.raw,
                row.sha256,
                row.received_at,
                r.device_time,
                r.visit,
                r.error,
                row.distinct_by,
            )
            for row in rows
            for r in [row.record]
        ],
    )


def _new_readings(db: sqlite3.Connection, rows: Sequence[Row]) -> list[tuple[Row, int, Reading]]:
    candidates = [(row, reading) for row in rows for reading in row.record.readings]
    seen = _stored_reading_keys(db, candidates)
    next_id = _next_id(db, "readings")
    new = []
    for row, reading in candidates:
        key = (row.device, reading.code, reading.kind, row.measured_at)
        if key in seen:
            continue
        seen.add(key)
        new.append((row, next_id, reading))
        next_id += 1
    return new


def _stored_reading_keys(db: sqlite3.Connection, candidates: Sequence[tuple[Row, Reading]]) -> set[tuple[str, ...]]:
    by_channel: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row, reading in candidates:
        by_channel[(row.device, reading.code, reading.kind)].append(row.measured_at)
    keys: set[tuple[str, ...]] = set()
    for (device, code, kind), times in by_channel.items():
        for chunk in _chunks(times):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT measured_at FROM readings WHERE device = ? AND code = ? AND kind = ?"  # noqa: S608
                f" AND measured_at IN ({marks})"
            )
            keys.update((device, code, kind, at) for (at,) in db.execute(query, (device, code, kind, *chunk)))
    return keys


def _insert_readings(db: sqlite3.Connection, readings: Sequence[tuple[Row, int, Reading]]) -> None:
    rows = []
    for row, reading_id, reading in readings:
        lat, lon, alt = row.record.device_position or (None, None, None)
        rows.append(
            (
                reading_id,
                row.frame_id,
                row.device,
                reading.code,
                reading.kind,
                reading.value,
                reading.unit,
                reading.flag,
                reading.original_code,
                row.measured_at,
                row.time_source,
                lat,
                lon,
                alt,
            )
        )
    db.executemany(
        "INSERT INTO readings (id, frame_id, device, code, kind, value, unit, flag, original_code, measured_at,"
        " time_source, device_lat, device_lon, device_alt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _insert_exceedances(
    db: sqlite3.Connection, readings: Sequence[tuple[Row, int, Reading]], warn: Warn | None
) -> list[tuple[Row, Reading, Exceedance]]:
    if warn is None:
        return []
    found = [(row, reading_id, reading, e) for row, reading_id, reading in readings for e in warn(row.device, reading)]
    db.executemany(
        "INSERT OR IGNORE INTO exceedances (reading_id, standard, grade, averaging, limit_json, value, ratio,"
        " message_zh, message_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                reading_id,
                e.limit.standard,
                e.limit.grade,
                e.limit.averaging,
                canonical_text(e.to_json()),
                e.value,
                e.ratio,
                e.message_zh(),
                e.message_en(),
            )
            for _row, reading_id, _reading, e in found
        ],
    )
    return [(row, reading, e) for row, _reading_id, reading, e in found]


def _insert_fixes(db: sqlite3.Connection, rows: Sequence[Row]) -> None:
    fixes = [(row, row.record.fix) for row in rows if row.record.fix is not None]
    db.executemany(
        "INSERT OR IGNORE INTO fixes (frame_id, at, received_at, lat, lon, alt, quality, satellites, hdop, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                row.frame_id,
                format_utc(fix.at),
                row.received_at,
                fix.lat,
                fix.lon,
                fix.alt,
                fix.quality,
                fix.satellites,
                fix.hdop,
                fix.source,
            )
            for row, fix in fixes
        ],
    )
