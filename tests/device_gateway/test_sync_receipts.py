"""A receipt is kept only when every part of it verifies: a tamper test for each check (pure, no server)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from device_gateway.errors import UntrustedServerError
from device_gateway.sync.receipts import check_receipt
from evidence.checkpoint import Checkpoint, sign_checkpoint
from evidence.custody import CustodyEvent, new_event
from evidence.keys import generate_key
from evidence.merkle import MerkleLog

GATEWAY = generate_key("gateway")
SERVER = generate_key("server")
NOW = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)
SHA = "ab" * 32


def _chain() -> list[CustodyEvent]:
    acquired = new_event(
        key=GATEWAY, item_id="item-1", item_sha256=SHA, action="acquired", at=NOW, previous=None, device="cam"
    )
    imported = new_event(
        key=GATEWAY, item_id="item-1", item_sha256=SHA, action="imported", at=NOW, previous=acquired, device="gw"
    )
    return [acquired, imported]


def _receipt(events: list[CustodyEvent], *, signer: Any = SERVER, log_key: Any = SERVER) -> dict[str, Any]:
    received = new_event(
        key=signer, item_id="item-1", item_sha256=SHA, action="received", at=NOW, previous=events[-1], user="wang"
    )
    log = MerkleLog()
    for leaf in [b"earlier entry", *(e.to_bytes() for e in events), received.to_bytes(), b"later entry"]:
        log.append(leaf)
    index, size = 3, log.size
    note = sign_checkpoint(Checkpoint("fieldproof.test/log", size, log.root()), log_key)
    return {
        "received_event": received.to_json(),
        "log_index": index,
        "inclusion": {
            "index": index,
            "size": size,
            "proof": [base64.b64encode(node).decode() for node in log.inclusion_proof(index, size)],
        },
        "checkpoint": note.to_bytes().decode(),
    }


def test_a_genuine_receipt_verifies() -> None:
    events = _chain()
    checked = check_receipt(_receipt(events), key=SERVER.public, events=events)
    assert (checked.log_index, checked.checkpoint.size) == (3, 5)


def _tampered(change: str) -> dict[str, Any]:
    events = _chain()
    receipt = copy.deepcopy(_receipt(events))
    if change == "event-details":
        receipt["received_event"]["details"] = {"case": "forged"}
    elif change == "index":
        receipt["log_index"] = receipt["inclusion"]["index"] = 2
    elif change == "proof-node":
        receipt["inclusion"]["proof"][0] = base64.b64encode(b"\0" * 32).decode()
    elif change == "checkpoint-key":
        receipt = _receipt(events, log_key=generate_key("server"))
    elif change == "event-key":
        receipt = _receipt(events, signer=generate_key("server"))
    elif change == "chain":
        receipt = _receipt(_chain()[:1])
    return receipt


@pytest.mark.parametrize("change", ["event-details", "index", "proof-node", "checkpoint-key", "event-key", "chain"])
def test_a_tampered_receipt_is_refused(change: str) -> None:
    with pytest.raises(UntrustedServerError, match="does not verify"):
        check_receipt(_tampered(change), key=SERVER.public, events=_chain())
