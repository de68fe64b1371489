"""Registering evidence items, answering for them, and checking them again.

Registration (``register_item``), in the request's one transaction:

1. the case must be one the caller sees; the bytes must be a completed upload or a blob the server holds;
2. a retry (same item id, same request) is answered with the existing item; the same id for anything else is a
   conflict; never a second copy;
3. the collector's custody events must be well formed, about this item and these bytes, one unbroken chain, each
   signed by an enrolled device of a unit the caller sees (or by this server);
4. the events are appended to the global log, then the server's own ``received`` event, signed with its key;
5. the item is stored, and the caller gets a receipt: the received event, its log index, an inclusion proof and
   the signed checkpoint it leads to.
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence.canonical import canonical_bytes
from evidence.custody import CustodyEvent, verify_chain, verify_event_signature
from evidence.errors import VerificationError
from evidence.keys import PublicKey
from server.auth import Principal
from server.cases.models import Case
from server.cases.service import require_open, visible_case
from server.clues.service import require_attachable
from server.config import Settings
from server.devices.models import Device
from server.devices.service import device_keys
from server.errors import ApiError, not_found
from server.items.models import Item
from server.items.schemas import RegisterItem
from server.ledger import service as ledger
from server.storage import BlobStore
from server.uploads.service import completed_upload
from server.visits.models import Visit
from server.webhooks.service import emit


def visible_item(session: Session, principal: Principal, item_id: str) -> Item:
    item = session.get(Item, item_id)
    if item is None or not principal.sees(item.unit_id):
        raise not_found("item")
    return item


def register_item(
    session: Session,
    *,
    settings: Settings,
    principal: Principal,
    body: RegisterItem,
    via_device: str | None = None,
) -> tuple[Item, bool]:
    """Register an item (see the module docstring); return it and whether it is new."""
    case = visible_case(session, principal=principal, case_id=body.case_id)
    request_hash = hashlib.sha256(canonical_bytes(body.model_dump(mode="json"))).hexdigest()
    existing = session.get(Item, body.item_id)
    if existing is not None:
        if existing.request_hash != request_hash:
            raise ApiError(409, f"item {body.item_id} is registered already, with different content")
        return existing, False
    require_open(case)
    require_attachable(session, principal=principal, case=case)
    _check_links(session, body, case)
    sha256, size = _bytes_of(session, settings, principal, body)
    item = _record(
        session,
        settings,
        principal,
        body,
        case=case,
        sha256=sha256,
        size=size,
        request_hash=request_hash,
        via_device=via_device,
    )
    return item, True


def register_server_document(
    session: Session, *, settings: Settings, principal: Principal, body: RegisterItem, data: bytes
) -> Item:
    """Register bytes the server made itself (an alert's readings, attached to its clue) on behalf of
    ``principal``: they go to the blob store and become an item like any other, with the server's received event.
    ``body.sha256`` must be their digest; there is no upload or earlier blob to check them against."""
    case = visible_case(session, principal=principal, case_id=body.case_id)
    require_open(case)
    digest = BlobStore(settings).put_bytes(data)
    if digest.sha256 != body.sha256:
        raise ValueError(f"the registration names {body.sha256}, the bytes are {digest.sha256}")
    request_hash = hashlib.sha256(canonical_bytes(body.model_dump(mode="json"))).hexdigest()
    return _record(
        session,
        settings,
        principal,
        body,
        case=case,
        sha256=digest.sha256,
        size=len(data),
        request_hash=request_hash,
        via_device=None,
    )


def _record(
    session: Session,
    settings: Settings,
    principal: Principal,
    body: RegisterItem,
    *,
    case: Case,
    sha256: str,
    size: int,
    request_hash: str,
    via_device: str | None,
) -> Item:
    """Append the collector's events and the server's received event to the log; store the item; announce it."""
    events = _collector_events(session, settings, principal, body, sha256)
    ledger.append(session, events)
    received = _received_event(
        settings, principal, body, case=case, sha256=sha256, size=size, events=events, via_device=via_device
    )
    (received_index,) = ledger.append(session, [received])
    item = _new_item(
        session,
        principal,
        body,
        case=case,
        sha256=sha256,
        size=size,
        events=events,
        received_index=received_index,
        request_hash=request_hash,
    )
    item_data = {"item_id": item.id, "case_id": case.id, "case": case.number, "kind": item.kind, "sha256": sha256}
    emit(session, unit_id=case.unit_id, event_type="item.received", data={**item_data, "size": size})
    return item


def receipt(session: Session, settings: Settings, item: Item) -> dict[str, Any]:
    """The received event, its log index, an inclusion proof and the signed checkpoint it leads to."""
    note = ledger.latest_checkpoint(session, settings)
    size = note.checkpoint.size
    proof = ledger.inclusion(session, item.received_index, size)
    entry = ledger.entry(session, item.received_index)
    return {
        "received_event": entry.custody_event().to_json(),
        "log_index": item.received_index,
        "inclusion": proof_json(proof),
        "checkpoint": note.to_bytes().decode(),
    }


def proof_json(proof: Any) -> dict[str, Any]:
    return {
        "index": proof.index,
        "size": proof.size,
        "leaf_hash": b64encode(proof.leaf_hash).decode(),
        "proof": [b64encode(node).decode() for node in proof.proof],
        "root": b64encode(proof.root).decode(),
    }


def _check_links(session: Session, body: RegisterItem, case: Case) -> None:
    """The visit and the original an item names must be of its own case (else 422, whether or not they exist)."""
    if body.visit_id is not None:
        visit = session.get(Visit, body.visit_id)
        if visit is None or visit.case_id != case.id:
            raise ApiError(422, f"case {case.number} has no visit {body.visit_id}")
    if body.derived_from is not None:
        original = session.get(Item, body.derived_from)
        if original is None or original.case_id != case.id:
            raise ApiError(422, f"case {case.number} has no item {body.derived_from} to derive from")


def _bytes_of(session: Session, settings: Settings, principal: Principal, body: RegisterItem) -> tuple[str, int]:
    if (body.upload_id is None) == (body.sha256 is None):
        raise ApiError(422, "give exactly one of upload_id (a completed upload) and sha256 (a blob the server holds)")
    if body.upload_id is not None:
        upload = completed_upload(session, upload_id=body.upload_id, principal=principal)
        return upload.sha256, upload.size
    assert body.sha256 is not None
    blobs = BlobStore(settings)
    if not blobs.has(body.sha256) or not _may_reuse(session, principal, body.sha256):
        # the same answer whether another unit holds these bytes or nobody does: a digest reveals nothing
        raise ApiError(422, "the server holds no blob with this SHA-256 that you may use: upload it first")
    return body.sha256, blobs.path(body.sha256).stat().st_size


def _may_reuse(session: Session, principal: Principal, sha256: str) -> bool:
    """Bytes are reused by digest only when they already belong to an item the caller sees."""
    units = session.scalars(select(Item.unit_id).where(Item.sha256 == sha256)).all()
    return any(principal.sees(unit) for unit in units)


def _collector_events(
    session: Session, settings: Settings, principal: Principal, body: RegisterItem, sha256: str
) -> list[CustodyEvent]:
    try:
        events = [CustodyEvent.from_json(event) for event in body.events]
        canonical = [CustodyEvent.from_bytes(event.to_bytes()) for event in events]
    except VerificationError as exc:
        raise ApiError(422, f"a custody event is malformed: {exc}") from exc
    for event in canonical:
        if (event.item_id, event.item_sha256) != (body.item_id, sha256):
            raise ApiError(422, f"custody event #{event.seq} is about another item or other bytes")
    _check_chain_and_signatures(session, settings, principal, canonical)
    return canonical


def _check_chain_and_signatures(
    session: Session, settings: Settings, principal: Principal, events: Sequence[CustodyEvent]
) -> None:
    if not events:
        return
    try:
        verify_chain(events)
    except VerificationError as exc:
        raise ApiError(422, f"the custody chain is broken: {exc}") from exc
    keys: dict[str, PublicKey] = {
        **device_keys(session),
        ledger.server_key(settings).key_id: ledger.server_key(settings).public,
    }
    for event in events:
        try:
            verify_event_signature(event, keys)
        except VerificationError as exc:
            raise ApiError(422, f"custody event #{event.seq}: {exc}") from exc
        _check_device_unit(session, principal, event.signer, settings)


def _check_device_unit(session: Session, principal: Principal, key_id: str, settings: Settings) -> None:
    if key_id == ledger.server_key(settings).key_id:
        return
    device = session.scalar(select(Device).where(Device.key_id == key_id))
    if device is None or not principal.sees(device.unit_id):
        raise ApiError(422, "a custody event is signed by a device not enrolled in a unit you belong to")


def _received_event(
    settings: Settings,
    principal: Principal,
    body: RegisterItem,
    *,
    case: Case,
    sha256: str,
    size: int,
    events: Sequence[CustodyEvent],
    via_device: str | None = None,
) -> CustodyEvent:
    details: dict[str, Any] = {
        "case": case.number,
        "size": size,
        "media_type": body.media_type,
        "name": body.name,
        "upload_id": body.upload_id,
    }
    if via_device is not None:
        details["via_device"] = via_device
    return ledger.server_event(
        settings,
        item_id=body.item_id,
        item_sha256=sha256,
        action="received",
        previous=events[-1] if events else None,
        user=principal.username,
        details=details,
    )


def _new_item(
    session: Session,
    principal: Principal,
    body: RegisterItem,
    *,
    case: Case,
    sha256: str,
    size: int,
    events: Sequence[CustodyEvent],
    received_index: int,
    request_hash: str,
) -> Item:
    location = body.location
    next_seq = (session.scalar(select(func.max(Item.seq_no))) or 0) + 1
    item = Item(
        id=body.item_id,
        seq_no=next_seq,
        case_id=case.id,
        unit_id=case.unit_id,
        kind=body.kind,
        sha256=sha256,
        size=size,
        media_type=body.media_type,
        name=body.name,
        captured_at=body.captured_at.astimezone(UTC) if body.captured_at else None,
        captured_offset=body.captured_at.strftime("%z")[:3] + ":" + body.captured_at.strftime("%z")[3:]
        if body.captured_at
        else None,
        time_source=body.time_source,
        clock_offset_s=body.clock_offset_s,
        lat=location.lat if location else None,
        lon=location.lon if location else None,
        alt=location.alt if location else None,
        accuracy_m=location.accuracy_m if location else None,
        location_source=location.source if location else None,
        fix_age_s=location.fix_age_s if location else None,
        device_key_id=events[0].signer if events else None,
        visit_id=body.visit_id,
        derived_from=body.derived_from,
        collected_by=list(body.collected_by),
        registered_by=principal.user_id,
        registered_at=datetime.now(UTC),
        received_index=received_index,
        request_hash=request_hash,
    )
    session.add(item)
    session.flush()
    return item
