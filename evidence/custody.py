"""Custody events: who did what to which evidence item, when and where, signed and chained per item.

An event is a canonical JSON object (RFC 8785)::

    {"format": "fieldproof.custody/1", "item_id": …, "item_sha256": …, "seq": 0, "action": "acquired",
     "at": "2026-05-01T08:30:00.000000Z", "actor": {"user": …|null, "device": …|null}, "place": {…}|null,
     "details": {…}, "prev": null | <hex SHA-256 of the previous event's bytes>, "signer": <key id>,
     "sig": <base64 Ed25519 signature>}

The signature covers the canonical bytes of the event without ``sig``. The event's bytes (canonical, with
``sig``) are what the global log stores as a leaf, and their SHA-256 is the next event's ``prev``. Events of one
item form a chain: ``seq`` counts from 0 without gaps and each ``prev`` names the event before it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evidence.canonical import canonical_bytes, loads
from evidence.errors import CanonicalJSONError, ChainError, EventFormatError, SignatureError
from evidence.hashing import is_sha256_hex
from evidence.keys import PublicKey, SigningKey

FORMAT = "fieldproof.custody/1"
ACTIONS = frozenset(
    {
        "acquired",
        "imported",
        "uploaded",
        "received",
        "verified",
        "accessed",
        "exported",
        "transferred",
        "sealed",
        "annotated",
        "derived",
    }
)
PLACE_SOURCES = frozenset({"exif-gps", "gateway-gnss-track", "browser", "manual", "device-gnss"})
# Where an item's capture time came from (docs/media.md): what collectors send and the server keeps.
TIME_SOURCES = (
    "gnss",
    "camera-clock-corrected",
    "camera-clock",
    "file-name",
    "file-mtime",
    "device-rtc",
    "gateway-clock",
    "browser-clock",
    "manual",
)
_FIELDS = (
    "format",
    "item_id",
    "item_sha256",
    "seq",
    "action",
    "at",
    "actor",
    "place",
    "details",
    "prev",
    "signer",
)
_UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

__all__ = [
    "ACTIONS",
    "FORMAT",
    "CustodyEvent",
    "format_utc",
    "new_event",
    "parse_utc",
    "verify_chain",
    "verify_event_signature",
]


def format_utc(moment: datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; naive datetimes are refused (never guess a zone)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no known zone; refusing to label it UTC")
    # isoformat (not strftime): several times cheaper, and it pads years below 1000 to four digits.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_utc(text: str) -> datetime:
    if not _UTC_TIME.fullmatch(text):
        raise EventFormatError(f"time {text!r} is not UTC in the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise EventFormatError(f"time {text!r} is not a valid date and time") from exc


@dataclass(frozen=True, eq=False)
class CustodyEvent:
    """One signed custody event. Build with ``new_event``; read with ``CustodyEvent.from_bytes``."""

    item_id: str
    item_sha256: str
    seq: int
    action: str
    at: str
    actor: Mapping[str, str | None]
    place: Mapping[str, Any] | None
    details: Mapping[str, Any]
    prev: str | None
    signer: str
    signature: bytes = field(repr=False)

    def unsigned(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "item_id": self.item_id,
            "item_sha256": self.item_sha256,
            "seq": self.seq,
            "action": self.action,
            "at": self.at,
            "actor": dict(self.actor),
            "place": None if self.place is None else dict(self.place),
            "details": dict(self.details),
            "prev": self.prev,
            "signer": self.signer,
        }

    def signed_message(self) -> bytes:
        return canonical_bytes(self.unsigned())

    def to_json(self) -> dict[str, Any]:
        return {**self.unsigned(), "sig": base64.b64encode(self.signature).decode()}

    def to_bytes(self) -> bytes:
        """The canonical bytes: what the log stores as a leaf and what ``event_hash`` hashes."""
        return self._canonical

    # Events are immutable, so their encoding and hash are computed once (verification needs them repeatedly).
    @functools.cached_property
    def _canonical(self) -> bytes:
        return canonical_bytes(self.to_json())

    @functools.cached_property
    def event_hash(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> CustodyEvent:
        """Parse an event; its bytes must be exactly its canonical form."""
        try:
            value = loads(data)
        except CanonicalJSONError as exc:
            raise EventFormatError(f"event is not JSON: {exc}") from exc
        event = cls.from_json(value)
        try:
            canonical = event.to_bytes()
        except CanonicalJSONError as exc:
            raise EventFormatError(f"event has no canonical form: {exc}") from exc
        if canonical != data:
            raise EventFormatError("event bytes are not in canonical form (RFC 8785)")
        return event

    @classmethod
    def from_json(cls, value: Any) -> CustodyEvent:
        if not isinstance(value, dict):
            raise EventFormatError("event is not a JSON object")
        expected = {*_FIELDS, "sig"}
        if set(value) != expected:
            missing, extra = expected - set(value), set(value) - expected
            raise EventFormatError(f"event fields differ: missing {sorted(missing)}, unexpected {sorted(extra)}")
        _check_fields(value)
        return cls(
            item_id=value["item_id"],
            item_sha256=value["item_sha256"],
            seq=value["seq"],
            action=value["action"],
            at=value["at"],
            actor=value["actor"],
            place=value["place"],
            details=value["details"],
            prev=value["prev"],
            signer=value["signer"],
            signature=_decode_signature(value["sig"]),
        )


def new_event(
    *,
    key: SigningKey,
    item_id: str,
    item_sha256: str,
    action: str,
    at: datetime,
    previous: CustodyEvent | None,
    user: str | None = None,
    device: str | None = None,
    place: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> CustodyEvent:
    """Build and sign the next event of an item's chain (``previous`` is its last event, or None)."""
    if previous is not None and (previous.item_id, previous.item_sha256) != (item_id, item_sha256):
        raise ChainError(f"previous event belongs to item {previous.item_id}, not {item_id}")
    draft = {
        "format": FORMAT,
        "item_id": item_id,
        "item_sha256": item_sha256,
        "seq": 0 if previous is None else previous.seq + 1,
        "action": action,
        "at": format_utc(at),
        "actor": {"user": user, "device": device},
        "place": None if place is None else dict(place),
        "details": dict(details or {}),
        "prev": None if previous is None else previous.event_hash,
        "signer": key.key_id,
    }
    _check_fields(draft)
    signature = key.sign(canonical_bytes(draft))
    return CustodyEvent.from_json({**draft, "sig": base64.b64encode(signature).decode()})


def verify_event_signature(event: CustodyEvent, keys: Mapping[str, PublicKey]) -> PublicKey:
    """Verify an event's signature under the key its ``signer`` names; return that key."""
    key = keys.get(event.signer)
    if key is None:
        raise SignatureError(f"event {event.item_id}#{event.seq}: signer key {event.signer[:16]}… is not available")
    try:
        key.verify(event.signature, event.signed_message())
    except SignatureError as exc:
        raise SignatureError(f"event {event.item_id}#{event.seq} ({event.action}): forged or edited; {exc}") from exc
    return key


def verify_chain(events: Sequence[CustodyEvent]) -> None:
    """Check that ``events`` are one item's complete chain in order: seq 0.., each linked to the one before."""
    if not events:
        raise ChainError("an item has no custody events")
    first = events[0]
    for position, event in enumerate(events):
        label = f"item {first.item_id} event #{position}"
        if (event.item_id, event.item_sha256) != (first.item_id, first.item_sha256):
            raise ChainError(f"{label}: belongs to another item or names another SHA-256")
        if event.seq != position:
            raise ChainError(f"{label}: sequence number is {event.seq}, expected {position} (missing or moved)")
        expected_prev = None if position == 0 else events[position - 1].event_hash
        if event.prev != expected_prev:
            raise ChainError(f"{label}: does not link to the event before it (previous-event hash differs)")


def _check_fields(value: Mapping[str, Any]) -> None:
    """Validate field types and values; raise EventFormatError naming the first bad field."""
    checks: list[tuple[str, bool]] = [
        ("format", value["format"] == FORMAT),
        ("item_id", isinstance(value["item_id"], str) and bool(_ITEM_ID.fullmatch(value["item_id"]))),
        ("item_sha256", isinstance(value["item_sha256"], str) and is_sha256_hex(value["item_sha256"])),
        ("seq", type(value["seq"]) is int and value["seq"] >= 0),
        ("action", isinstance(value["action"], str) and value["action"] in ACTIONS),
        ("at", isinstance(value["at"], str) and bool(_UTC_TIME.fullmatch(value["at"]))),
        ("actor", _valid_actor(value["actor"])),
        ("place", value["place"] is None or _valid_place(value["place"])),
        ("details", isinstance(value["details"], dict)),
        ("prev", value["prev"] is None or (isinstance(value["prev"], str) and is_sha256_hex(value["prev"]))),
        ("signer", isinstance(value["signer"], str) and is_sha256_hex(value["signer"])),
        ("prev", (value["prev"] is None) == (value["seq"] == 0)),
    ]
    for name, ok in checks:
        if not ok:
            raise EventFormatError(f"event field {name!r} is invalid: {value.get(name)!r}"[:200])
    parse_utc(value["at"])


def _valid_actor(actor: Any) -> bool:
    if not isinstance(actor, dict) or set(actor) != {"user", "device"}:
        return False
    values = actor.values()
    return all(v is None or (isinstance(v, str) and v) for v in values) and any(values)


def _valid_place(place: Any) -> bool:
    if not isinstance(place, dict) or not {"lat", "lon", "source"} <= set(place):
        return False
    lat, lon = place["lat"], place["lon"]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon))
    source = place["source"]
    in_range = numbers and -90 <= lat <= 90 and -180 <= lon <= 180
    return in_range and isinstance(source, str) and source in PLACE_SOURCES


def _decode_signature(text: Any) -> bytes:
    if not isinstance(text, str):
        raise EventFormatError("event signature is not a string")
    try:
        signature = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise EventFormatError("event signature is not base64") from exc
    if len(signature) != 64:
        raise EventFormatError(f"event signature has {len(signature)} bytes, not 64")
    return signature
