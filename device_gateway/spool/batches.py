"""Sealing sensor batches: a visit's frames from one device become one evidence item.

The item's bytes are a JSON Lines file, each line canonical JSON (RFC 8785): a header, then one line per frame
in the order received::

    {"device": …, "first_received_at": …, "format": "fieldproof.sensor-batch/1", "frames": N, …}
    {"error": null, "protocol": "hj212", "raw": <base64 of the exact bytes>, "received_at": …Z, "sha256": …}

The raw bytes are the evidence; readings are derived from them and can be derived again by anyone. The file is
hashed and stored like any other item, with two custody events signed by the gateway's key: ``acquired`` (what
the device sent: device, protocol, counts, its own time range) and ``imported`` (the gateway's facts: sources,
size, receive-time range, its clock at sealing).
"""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from device_gateway.gps import GnssTrack, Position
from device_gateway.spool.store import Spool, utc_text
from evidence.canonical import canonical_bytes, canonical_text
from evidence.custody import CustodyEvent, new_event
from evidence.keys import SigningKey

BATCH_FORMAT = "fieldproof.sensor-batch/1"
MEDIA_TYPE = "application/x-ndjson"
KIND = "sensor-batch"


@dataclass(frozen=True)
class SealedBatch:
    item_id: str
    device: str
    visit: str | None
    name: str
    sha256: str
    size: int
    frames: int
    readings: int


@dataclass(frozen=True)
class _Frame:
    id: int
    source: str
    protocol: str
    raw: bytes
    received_at: str
    device_time: str | None
    error: str | None


def seal_pending_batches(
    spool: Spool, *, key: SigningKey, now: datetime, track: GnssTrack | None = None
) -> list[SealedBatch]:
    """Seal every (device, visit) group of frames not yet in an item; return what was sealed."""
    groups = spool.connection.execute(
        "SELECT device, visit FROM frames WHERE id NOT IN (SELECT frame_id FROM item_frames)"
        " GROUP BY device, visit ORDER BY MIN(id)"
    ).fetchall()
    return [_seal_group(spool, device, visit, key=key, now=now, track=track) for device, visit in groups]


def _seal_group(
    spool: Spool, device: str, visit: str | None, *, key: SigningKey, now: datetime, track: GnssTrack | None
) -> SealedBatch:
    frames = _unsealed_frames(spool.connection, device, visit)
    readings = _reading_count(spool.connection, [f.id for f in frames])
    data = batch_bytes(device, visit, frames)
    blob = spool.blobs.put_bytes(data)
    item_id = str(uuid.uuid4())
    name = _file_name(device, visit, frames[0].received_at)
    first_place = _place(track, datetime.fromisoformat(frames[0].received_at))
    events = _custody_events(
        key=key,
        item_id=item_id,
        sha256=blob.digest.sha256,
        device=device,
        frames=frames,
        readings=readings,
        details={"name": name, "size": blob.digest.size, "media_type": MEDIA_TYPE, "visit": visit},
        places=(first_place, _place(track, now)),
        now=now,
    )
    metadata = {"captured_at": frames[0].received_at, "time_source": "gateway-clock", "location": first_place}
    with spool.transaction() as db:
        db.execute(
            "INSERT INTO items (id, kind, sha256, size, media_type, name, device, visit, created_at, metadata)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                KIND,
                blob.digest.sha256,
                blob.digest.size,
                MEDIA_TYPE,
                name,
                device,
                visit,
                utc_text(now),
                canonical_text(metadata),
            ),
        )
        db.executemany("INSERT INTO item_frames (item_id, frame_id) VALUES (?, ?)", [(item_id, f.id) for f in frames])
        db.executemany(
            "INSERT INTO events (item_id, seq, event, event_hash) VALUES (?, ?, ?, ?)",
            [(item_id, e.seq, e.to_bytes(), e.event_hash) for e in events],
        )
        place_readings(db, [f.id for f in frames], track)
    return SealedBatch(item_id, device, visit, name, blob.digest.sha256, blob.digest.size, len(frames), readings)


def batch_bytes(device: str, visit: str | None, frames: Sequence[_Frame]) -> bytes:
    header = {
        "format": BATCH_FORMAT,
        "device": device,
        "visit": visit,
        "frames": len(frames),
        "protocols": sorted({f.protocol for f in frames}),
        "first_received_at": frames[0].received_at,
        "last_received_at": frames[-1].received_at,
    }
    lines = [canonical_bytes(header)] + [canonical_bytes(_frame_json(f)) for f in frames]
    return b"\n".join(lines) + b"\n"


def _frame_json(frame: _Frame) -> dict[str, Any]:
    return {
        "received_at": frame.received_at,
        "source": frame.source,
        "protocol": frame.protocol,
        "device_time": frame.device_time,
        "raw": base64.b64encode(frame.raw).decode(),
        "sha256": hashlib.sha256(frame.raw).hexdigest(),
        "error": frame.error,
    }


def _unsealed_frames(db: sqlite3.Connection, device: str, visit: str | None) -> list[_Frame]:
    rows = db.execute(
        "SELECT id, source, protocol, raw, received_at, device_time, error FROM frames"
        " WHERE device = ? AND visit IS ? AND id NOT IN (SELECT frame_id FROM item_frames) ORDER BY id",
        (device, visit),
    ).fetchall()
    return [_Frame(*row) for row in rows]


def _reading_count(db: sqlite3.Connection, frame_ids: list[int]) -> int:
    total = 0
    for start in range(0, len(frame_ids), 500):  # SQLite limits the number of bound parameters
        chunk = frame_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        total += db.execute(f"SELECT COUNT(*) FROM readings WHERE frame_id IN ({marks})", chunk).fetchone()[0]  # noqa: S608
    return total


def _file_name(device: str, visit: str | None, first_received_at: str) -> str:
    stamp = re.sub(r"[^0-9]", "", first_received_at)[:14]
    safe_device = re.sub(r"[^A-Za-z0-9._-]", "_", device)
    return f"sensor-batch_{safe_device}_{visit or 'no-visit'}_{stamp}.jsonl"


def _place(track: GnssTrack | None, when: datetime) -> dict[str, Any] | None:
    position: Position | None = track.position_at(when) if track is not None else None
    return None if position is None else position.to_json()


def _custody_events(
    *,
    key: SigningKey,
    item_id: str,
    sha256: str,
    device: str,
    frames: Sequence[_Frame],
    readings: int,
    details: dict[str, Any],
    places: tuple[dict[str, Any] | None, dict[str, Any] | None],
    now: datetime,
) -> list[CustodyEvent]:
    device_times = [f.device_time for f in frames if f.device_time]
    acquired = new_event(
        key=key,
        item_id=item_id,
        item_sha256=sha256,
        action="acquired",
        at=datetime.fromisoformat(frames[0].received_at),
        previous=None,
        device=device,
        place=_event_place(places[0]),
        details={
            **details,
            "protocols": sorted({f.protocol for f in frames}),
            "frames": len(frames),
            "invalid_frames": sum(1 for f in frames if f.error),
            "readings": readings,
            "first_device_time": device_times[0] if device_times else None,
            "last_device_time": device_times[-1] if device_times else None,
        },
    )
    imported = new_event(
        key=key,
        item_id=item_id,
        item_sha256=sha256,
        action="imported",
        at=now,
        previous=acquired,
        device=key.name,
        place=_event_place(places[1]),
        details={
            **details,
            "sources": sorted({f.source for f in frames}),
            "first_received_at": frames[0].received_at,
            "last_received_at": frames[-1].received_at,
            "gateway_clock": utc_text(now),
        },
    )
    return [acquired, imported]


def _event_place(position: dict[str, Any] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    keep = ("lat", "lon", "alt", "accuracy_m", "source", "fix_age_s")
    return {k: position[k] for k in keep if k in position}


def place_readings(db: sqlite3.Connection, frame_ids: Sequence[int], track: GnssTrack | None) -> None:
    """Give each reading of these frames its position: the monitor's own fix, else the gateway's GNSS track at
    the moment the frame arrived (the gateway clock corrected to GNSS time). No fix near enough: no position."""
    offset = gateway_clock_offset(db)
    rows = []
    for start in range(0, len(frame_ids), 500):
        chunk = frame_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = (
            "SELECT r.id, r.device_lat, r.device_lon, r.device_alt, f.received_at FROM readings r"  # noqa: S608
            f" JOIN frames f ON f.id = r.frame_id WHERE r.frame_id IN ({marks})"
        )
        for reading_id, lat, lon, alt, received_at in db.execute(query, chunk):
            row = _position_row(reading_id, (lat, lon, alt), received_at, track, offset)
            if row is not None:
                rows.append(row)
    db.executemany(
        "INSERT INTO reading_positions (reading_id, lat, lon, alt, accuracy_m, source, fix_age_s, interpolated,"
        " clock_offset_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _position_row(
    reading_id: int,
    own: tuple[float | None, float | None, float | None],
    received_at: str,
    track: GnssTrack | None,
    offset: float | None,
) -> tuple[object, ...] | None:
    lat, lon, alt = own
    if lat is not None and lon is not None:
        return (reading_id, lat, lon, alt, None, "device-gnss", 0.0, 0, None)
    if track is None:
        return None
    moment = datetime.fromisoformat(received_at) + timedelta(seconds=offset or 0.0)
    position = track.position_at(moment)
    if position is None:
        return None
    return (
        reading_id,
        position.lat,
        position.lon,
        position.alt,
        position.accuracy_m,
        position.source,
        position.fix_age_s,
        int(position.interpolated),
        offset,
    )


def gateway_clock_offset(db: sqlite3.Connection) -> float | None:
    """GNSS time minus the gateway's clock, in seconds: the median over fixes of (fix time − receive time).

    A fix is timed by the satellites; its sentence's receive time by the gateway's clock (plus well under a
    second of serial latency). None without fixes.
    """
    differences = sorted(
        (datetime.fromisoformat(at) - datetime.fromisoformat(received)).total_seconds()
        for at, received in db.execute("SELECT at, received_at FROM fixes")
    )
    return differences[len(differences) // 2] if differences else None
