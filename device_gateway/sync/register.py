"""Registering an uploaded item: its metadata from the spool and all its signed custody events (``POST /items``).

The spool's ``items.metadata`` (canonical JSON written by the media importer and the batch sealer) maps to the
server's fields: ``captured_at``, ``time_source``, ``clock_offset_s``, ``location`` (lat, lon, alt, accuracy_m,
source, fix_age_s), ``derived_from`` (also from ``derivations``) and ``collected_by``. A time or place source the
server does not know is left out rather than relabelled. The item id is the Idempotency-Key: a retry after a lost
answer gets the same item and receipt, never a second item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from device_gateway.sync.client import ServerClient
from device_gateway.sync.state import SyncItem
from evidence.custody import PLACE_SOURCES, TIME_SOURCES, CustodyEvent

ITEMS = "/api/v1/items"
_PLACE_FIELDS = ("lat", "lon", "alt", "accuracy_m", "source", "fix_age_s")


def registration(item: SyncItem, *, case_id: int, upload_id: str, events: Sequence[CustodyEvent]) -> dict[str, Any]:
    """The body of ``POST /items`` for an uploaded item."""
    meta = item.metadata
    time_source = meta.get("time_source")
    body: dict[str, Any] = {
        "item_id": item.item_id,
        "case_id": case_id,
        "upload_id": upload_id,
        "kind": item.kind,
        "media_type": item.media_type,
        "name": item.name,
        "captured_at": meta.get("captured_at"),
        "time_source": time_source if time_source in TIME_SOURCES else None,
        "clock_offset_s": meta.get("clock_offset_s"),
        "location": location(meta.get("location")),
        "derived_from": item.derived_from or meta.get("derived_from"),
        "collected_by": list(meta.get("collected_by") or []),
        "events": [event.to_json() for event in events],
    }
    if body["captured_at"] is not None and not _has_zone(str(body["captured_at"])):
        body["captured_at"] = body["time_source"] = None  # local time is never sent as if it were an instant
    return body


def location(place: Any) -> dict[str, Any] | None:
    if not isinstance(place, dict) or place.get("source") not in PLACE_SOURCES:
        return None
    return {name: place.get(name) for name in _PLACE_FIELDS}


def register(client: ServerClient, body: dict[str, Any]) -> dict[str, Any]:
    """Register (or, on a retry, find again) the item; the server's answer: the item and its receipt."""
    answer = client.expect("POST", ITEMS, (200, 201), json=body, headers={"Idempotency-Key": body["item_id"]})
    registered: dict[str, Any] = answer.json()
    return registered


def _has_zone(text: str) -> bool:
    return text.endswith("Z") or (len(text) > 6 and text[-6] in "+-" and text[-3] == ":")
