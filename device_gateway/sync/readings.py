"""Pushing a registered sensor-batch item's readings (with where each was taken) in batches of at most 10,000.

Readings go in id order; after each batch the server accepted, the spool notes the last id sent, so a sync that
stops resumes after it. The server ignores a reading it holds already, so a batch resent after a lost answer
changes nothing: readings arrive once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from device_gateway.spool import Spool
from device_gateway.spool.queries import ReadingRow, item_readings
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient

BATCH_SIZE = 10_000
READINGS = "/api/v1/readings"
_POSITION_FIELDS = ("lat", "lon", "alt", "accuracy_m", "source", "fix_age_s")


@dataclass
class ReadingsSent:
    stored: int = 0
    duplicates: int = 0
    alerts: int = 0

    def add(self, answer: dict[str, Any]) -> None:
        self.stored += int(answer["stored"])
        self.duplicates += int(answer["duplicates"])
        self.alerts += int(answer["alerts"])


def push_readings(
    client: ServerClient, spool: Spool, item_id: str, *, after: int, sent: ReadingsSent, batch_size: int = BATCH_SIZE
) -> None:
    """Send the item's readings after id ``after``, batch by batch."""
    while rows := item_readings(spool.connection, item_id, after=after, limit=batch_size):
        body = {"item_id": item_id, "readings": [reading_json(row) for row in rows]}
        sent.add(client.expect("POST", READINGS, (200,), json=body).json())
        after = rows[-1].reading_id
        state.save_progress(spool, item_id, readings_through=after)


def reading_json(row: ReadingRow) -> dict[str, Any]:
    position = None
    if row.position is not None:
        position = {name: row.position.get(name) for name in _POSITION_FIELDS}
    return {
        "device": row.device,
        "code": row.code,
        "kind": row.kind,
        "value": row.value,
        "unit": row.unit,
        "flag": row.flag,
        "measured_at": row.measured_at,
        "time_source": row.time_source,
        "position": position,
    }
