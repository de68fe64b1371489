"""Checking an item again, years later: its bytes, its custody chain, every signature, its place in the log.

Numbered, fail-closed checks as in the offline verifier (``evidence.verify``): a check passes only by reaching its
end. A blob changed on disk behind the server's back fails ``blob``; an event rewritten in the database (possible
only after dropping the immutability triggers) fails ``signatures`` or ``log``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from evidence.checkpoint import SignedNote, verify_note
from evidence.custody import CustodyEvent, verify_chain, verify_event_signature
from evidence.errors import FieldproofError
from evidence.keys import PublicKey
from evidence.merkle import leaf_hash, verify_inclusion
from server.config import Settings
from server.devices.service import device_keys
from server.items.models import Item
from server.items.schemas import Check, Verification
from server.ledger import service as ledger
from server.storage import BlobStore


@dataclass
class _Context:
    session: Session
    settings: Settings
    item: Item
    note: SignedNote
    events: list[CustodyEvent] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)


def verify_item(session: Session, settings: Settings, item: Item) -> list[tuple[str, bool, str]]:
    """Every check on ``item``: (step, ok, detail), in order."""
    context = _Context(session, settings, item, ledger.latest_checkpoint(session, settings))
    steps: list[tuple[str, Callable[[_Context], str]]] = [
        ("blob", _blob),
        ("events", _events),
        ("chain", _chain),
        ("signatures", _signatures),
        ("checkpoint", _checkpoint),
        ("log", _log),
    ]
    results = []
    for name, step in steps:
        try:
            results.append((name, True, step(context)))
        except (FieldproofError, ValueError, KeyError) as exc:
            results.append((name, False, str(exc)))
        except Exception as exc:  # fail closed: an unexpected error never passes a check
            results.append((name, False, f"internal error while checking ({type(exc).__name__}: {exc})"))
    return results


def verification(session: Session, settings: Settings, item: Item) -> Verification:
    """``verify_item`` as the API shows it."""
    checks = [Check(step=step, ok=ok, detail=detail) for step, ok, detail in verify_item(session, settings, item)]
    return Verification(item_id=item.id, valid=all(check.ok for check in checks), checks=checks)


def _blob(context: _Context) -> str:
    blobs = BlobStore(context.settings)
    if not blobs.has(context.item.sha256):
        raise ValueError(f"the blob {context.item.sha256[:16]}… is missing from the store")
    if not blobs.verify(context.item.sha256):
        raise ValueError("the stored bytes no longer have the item's SHA-256 (changed on disk)")
    return f"{context.item.size:,} bytes re-hashed: SHA-256 {context.item.sha256}"


def _events(context: _Context) -> str:
    entries = ledger.entries_for_item(context.session, context.item.id)
    context.events = [CustodyEvent.from_bytes(entry.event) for entry in entries]
    context.indices = [entry.index for entry in entries]
    if not context.events:
        raise ValueError("the item has no custody events in the log")
    wrong = [e.seq for e in context.events if e.item_sha256 != context.item.sha256]
    if wrong:
        raise ValueError(f"events {wrong} name other bytes than the item's")
    return f"{len(context.events)} custody events"


def _chain(context: _Context) -> str:
    verify_chain(context.events)
    return "one unbroken chain from the first event"


def _signatures(context: _Context) -> str:
    server = ledger.server_key(context.settings)
    keys: dict[str, PublicKey] = {**device_keys(context.session), server.key_id: server.public}
    for event in context.events:
        verify_event_signature(event, keys)
    signers = sorted({event.signer[:16] for event in context.events})
    return f"every event's signature verifies ({', '.join(signers)}…)"


def _checkpoint(context: _Context) -> str:
    verify_note(context.note, [ledger.server_key(context.settings).public])
    head = context.note.checkpoint
    return f"checkpoint of {head.origin} at size {head.size} signed by the server key"


def _log(context: _Context) -> str:
    head = context.note.checkpoint
    for event, index in zip(context.events, context.indices, strict=True):
        proof = ledger.inclusion(context.session, index, head.size)
        verify_inclusion(leaf_hash(event.to_bytes()), index, head.size, proof.proof, head.root)
    return f"every event is in the signed log (indices {context.indices[0]}-{context.indices[-1]})"
