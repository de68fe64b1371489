"""Checking the server's receipt for an item before keeping it, fail-closed, in numbered steps:

1. the ``received`` event is well formed, about this item and these bytes, continues the gateway's own chain, and
   is signed by the server's pinned key;
2. the checkpoint is a signed note of the server's pinned key, of the same log (origin) as before;
3. the inclusion proof leads from the received event's leaf at ``log_index`` to the checkpoint's root;
4. the checkpoint is consistent with every checkpoint seen before from this server: proved (``/log/consistency``)
   against the largest smaller one and the smallest larger one (those were proved against theirs, so all are);
   a checkpoint of a size seen before must have the same root.

Any failure raises ``UntrustedServerError``: the sync stops, and nothing of the answer is stored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from device_gateway.errors import ServerRefusedError, UntrustedServerError
from device_gateway.spool import Spool
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient
from device_gateway.sync.state import SeenCheckpoint
from evidence.checkpoint import Checkpoint, SignedNote, verify_note
from evidence.custody import CustodyEvent, verify_event_signature
from evidence.errors import VerificationError
from evidence.keys import PublicKey
from evidence.merkle import leaf_hash, verify_consistency, verify_inclusion


@dataclass(frozen=True)
class CheckedReceipt:
    received: CustodyEvent
    checkpoint: SeenCheckpoint
    log_index: int


def check_receipt(receipt: dict[str, Any], *, key: PublicKey, events: Sequence[CustodyEvent]) -> CheckedReceipt:
    """Steps 1-3 (no I/O)."""
    try:
        received = _received_event(receipt["received_event"], key=key, events=events)  # 1.
        note = SignedNote.parse(str(receipt["checkpoint"]).encode())
        verify_note(note, [key])  # 2.
        head = note.checkpoint
        _check_inclusion(receipt, received, head)  # 3.
    except (VerificationError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise UntrustedServerError(f"the server's receipt for item {events[0].item_id} does not verify: {exc}") from exc
    seen = SeenCheckpoint(head.size, base64.b64encode(head.root).decode(), note.to_bytes().decode())
    return CheckedReceipt(received, seen, int(receipt["log_index"]))


def _received_event(value: Any, *, key: PublicKey, events: Sequence[CustodyEvent]) -> CustodyEvent:
    received = CustodyEvent.from_json(value)
    CustodyEvent.from_bytes(received.to_bytes())
    last = events[-1]
    if (received.item_id, received.item_sha256) != (last.item_id, last.item_sha256):
        raise VerificationError("the received event is about another item or other bytes")
    if received.action != "received" or received.seq != last.seq + 1 or received.prev != last.event_hash:
        raise VerificationError("the received event does not continue the gateway's custody chain")
    verify_event_signature(received, {key.key_id: key})
    return received


def _check_inclusion(receipt: dict[str, Any], received: CustodyEvent, head: Checkpoint) -> None:
    inclusion, index = receipt["inclusion"], int(receipt["log_index"])
    if int(inclusion["index"]) != index or int(inclusion["size"]) != head.size:
        raise VerificationError("the inclusion proof is for another index or tree size than the checkpoint's")
    proof = [base64.b64decode(node, validate=True) for node in inclusion["proof"]]
    verify_inclusion(leaf_hash(received.to_bytes()), index, head.size, proof, head.root)


def check_consistency(client: ServerClient, spool: Spool, seen: SeenCheckpoint) -> None:
    """Step 4: ``seen`` is consistent with every checkpoint this gateway kept from the server."""
    earlier = state.seen_checkpoints(spool.connection, client.server)
    if earlier:
        _same_log(earlier[0], seen)
    for other in earlier:
        if other.size == seen.size and other.root != seen.root:
            raise UntrustedServerError(
                f"the server's log of {seen.size} entries is not consistent with the one of {seen.size} entries it "
                "showed before (another root: a fork, or a replaced log): refused, nothing more is sent to it"
            )
    smaller = [c for c in earlier if c.size < seen.size]
    larger = [c for c in earlier if c.size > seen.size]
    if smaller:
        _prove(client, smaller[-1], seen)
    if larger:
        _prove(client, seen, larger[0])


def _same_log(first: SeenCheckpoint, seen: SeenCheckpoint) -> None:
    before = SignedNote.parse(first.note.encode()).checkpoint.origin
    now = SignedNote.parse(seen.note.encode()).checkpoint.origin
    if before != now:
        raise UntrustedServerError(f"the server's log is now {now!r}, not {before!r} as before: refused")


def _prove(client: ServerClient, older: SeenCheckpoint, newer: SeenCheckpoint) -> None:
    params = {"first": older.size, "second": newer.size}
    try:
        answer = client.expect("GET", "/api/v1/log/consistency", (200,), params=params).json()
        proof = [base64.b64decode(node, validate=True) for node in answer["proof"]]
        verify_consistency(older.size, newer.size, proof, base64.b64decode(older.root), base64.b64decode(newer.root))
    except (ServerRefusedError, VerificationError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise UntrustedServerError(
            f"the server's log of {newer.size} entries is not consistent with the one of {older.size} entries it "
            f"showed before ({exc}): refused, nothing more is sent to it"
        ) from exc
