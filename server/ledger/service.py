"""The custody ledger: appending events to the global RFC 9162 log, signed checkpoints, proofs, re-verification.

Appends are serialized in the database: on PostgreSQL by a transaction-scoped advisory lock (``lock_log``,
held to commit), on SQLite by the write lock every transaction takes up front (``BEGIN IMMEDIATE``, server.db).
Under that lock the size is read, the new leaves and perfect-subtree nodes are computed and inserted, and the
entries written; primary keys on (level, index) and on the leaf index make a fork impossible even if the lock were
bypassed (the second writer's insert fails).

Checkpoints are signed with the server key under the same lock, one per tree size (the table's primary key), and
only after the new root was shown consistent with the last checkpoint the server gave out: a log whose stored
tree no longer extends that checkpoint was tampered with, and the server then refuses (``LedgerIntegrityError``)
rather than sign a contradiction.

Services flush; the request's transaction commits (server.app).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from evidence.checkpoint import Checkpoint, SignedNote, sign_checkpoint, verify_note
from evidence.custody import CustodyEvent, new_event
from evidence.errors import CheckpointError, KeyFileError, ProofError
from evidence.keys import PublicKey, SigningKey, generate_key, load_signing_key, write_key_pair
from evidence.merkle import MerkleLog, leaf_hash, verify_consistency
from server.config import Settings
from server.errors import ApiError, not_found
from server.ledger.models import LogCheckpoint, LogEntry
from server.ledger.store import LedgerIntegrityError, Problems, SqlNodeStore, check_stored_tree, frontier

# pg_advisory_xact_lock key: the first 8 bytes of SHA-256("fieldproof ledger append"), as a signed 64-bit integer.
LOG_LOCK_ID = -4319919615847131568
_DUPLICATE_CHUNK = 200

__all__ = [
    "LOG_LOCK_ID",
    "ConsistencyProof",
    "InclusionProof",
    "LedgerIntegrityError",
    "append",
    "consistency",
    "entries_for_item",
    "entry",
    "inclusion",
    "latest_checkpoint",
    "lock_log",
    "log_size",
    "server_key",
    "verify_log",
]


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``index`` is in the tree of ``size`` leaves whose root is ``root`` (RFC 9162 audit path)."""

    index: int
    size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``first`` leaves (``first_root``) is a prefix of the tree of ``second`` leaves."""

    first: int
    second: int
    proof: list[bytes]
    first_root: bytes
    second_root: bytes


# --- the server key ------------------------------------------------------------------------------------------

_keys: dict[Path, SigningKey] = {}
_keys_lock = threading.Lock()


def server_key(settings: Settings) -> SigningKey:
    """The server's signing key (``data_dir/keys/server.key``), made on first use (mode 0600) and then cached."""
    path = settings.key_path.absolute()
    with _keys_lock:
        key = _keys.get(path)
        if key is None:
            if not path.exists():
                _create_key(path, settings.key_name)
            key = _keys[path] = load_signing_key(path)
    return key


def _create_key(path: Path, name: str) -> None:
    """Write a new key pair and link it into place, so concurrent workers end up sharing one key."""
    public_path = path.with_name(path.name + ".pub")
    if public_path.exists():
        raise KeyFileError(f"{public_path} exists without its private key {path}; refusing to make a new key")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".new-key-", dir=path.parent))
    try:
        staged_public = write_key_pair(generate_key(name), staging / path.name)
        try:
            os.link(staging / path.name, path)  # atomic and exclusive: one worker's key wins
        except FileExistsError:
            return
        os.link(staged_public, public_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- appending -----------------------------------------------------------------------------------------------


def lock_log(session: Session) -> None:
    """Serialize log writers until this transaction ends (PostgreSQL; SQLite transactions are serialized already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOG_LOCK_ID})


def server_event(
    settings: Settings,
    *,
    item_id: str,
    item_sha256: str,
    action: str,
    previous: CustodyEvent | None,
    user: str,
    details: dict[str, Any],
    at: datetime | None = None,
) -> CustodyEvent:
    """A custody event the server itself signs (received, accessed, verified, exported), following ``previous``."""
    key = server_key(settings)
    return new_event(
        key=key,
        item_id=item_id,
        item_sha256=item_sha256,
        action=action,
        at=at or datetime.now(UTC),
        previous=previous,
        user=user,
        device=key.name,
        details=details,
    )


def last_event(session: Session, item_id: str) -> CustodyEvent:
    """The newest custody event of a registered item (the one a new event must follow)."""
    return entries_for_item(session, item_id)[-1].custody_event()


def append(session: Session, events: Sequence[CustodyEvent]) -> list[int]:
    """Append ``events`` (already verified by the caller) to the log, in order; return their leaf indices.

    Refuses (409) an event whose (item_id, seq) is logged already, or that appears twice in ``events``.
    """
    if not events:
        return []
    session.flush()  # the caller's own writes go first, so the log lock is held only for the append
    lock_log(session)
    _refuse_logged(session, events)
    store = SqlNodeStore(session)
    first = store.size()
    store.prefetch(frontier(first))  # every stored node the append reads, in one query
    leaves = [event.to_bytes() for event in events]
    MerkleLog(store).append_many(leaves)
    now = datetime.now(UTC)
    rows = [
        _entry_row(first + offset, event, data, now)
        for offset, (event, data) in enumerate(zip(events, leaves, strict=True))
    ]
    session.execute(insert(LogEntry), rows)
    return list(range(first, first + len(events)))


def _entry_row(index: int, event: CustodyEvent, data: bytes, now: datetime) -> dict[str, object]:
    return {
        "index": index,
        "item_id": event.item_id,
        "seq": event.seq,
        "event": data,
        "event_hash": hashlib.sha256(data).hexdigest(),
        "leaf_hash": leaf_hash(data),
        "appended_at": now,
    }


def _refuse_logged(session: Session, events: Sequence[CustodyEvent]) -> None:
    keys = [(event.item_id, event.seq) for event in events]
    if len(set(keys)) != len(keys):
        raise ApiError(409, "the same event (item and sequence number) appears twice in one append")
    wanted = set(keys)
    items = sorted({item_id for item_id, _seq in keys})
    for start in range(0, len(items), _DUPLICATE_CHUNK):
        # By item (an index prefix seek); a row-value (item_id, seq) IN (...) would make SQLite scan the table.
        query = select(LogEntry.item_id, LogEntry.seq, LogEntry.index).where(
            LogEntry.item_id.in_(items[start : start + _DUPLICATE_CHUNK])
        )
        for item_id, seq, index in session.execute(query):
            if (item_id, seq) in wanted:
                raise ApiError(
                    409, f"event {seq} of item {item_id} is in the log already", item_id=item_id, seq=seq, index=index
                )


# --- reading entries -----------------------------------------------------------------------------------------


def log_size(session: Session) -> int:
    """Leaves in the log now."""
    return SqlNodeStore(session).size()


def entries_for_item(session: Session, item_id: str) -> list[LogEntry]:
    """The item's logged events, by sequence number."""
    query = select(LogEntry).where(LogEntry.item_id == item_id).order_by(LogEntry.seq)
    return list(session.scalars(query))


def entry(session: Session, index: int) -> LogEntry:
    """Leaf ``index`` of the log; 404 when there is none."""
    found = session.get(LogEntry, index)
    if found is None:
        raise not_found(f"log entry {index}")
    return found


# --- checkpoints ---------------------------------------------------------------------------------------------


def latest_checkpoint(session: Session, settings: Settings) -> SignedNote:
    """The signed checkpoint of the log as it is now: the stored one if the log has not grown, else a new one."""
    key = server_key(settings)
    last, size = _last_checkpoint(session), log_size(session)
    if last is not None and last.size == size:
        return _checked_note(last, SqlNodeStore(session), settings, key)
    lock_log(session)  # one signer at a time, and no append moves the size while we sign
    return _sign_current(session, settings, key)


def _last_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))


def _sign_current(session: Session, settings: Settings, key: SigningKey) -> SignedNote:
    """Under the log lock: sign and store the checkpoint of the current size, consistent with the last one."""
    store, last = SqlNodeStore(session), _last_checkpoint(session)
    size, log = store.size(), MerkleLog(store)
    if last is not None:
        if last.size > size:
            raise LedgerIntegrityError(f"a checkpoint of size {last.size} exists but the log holds {size} leaves")
        note = _checked_note(last, store, settings, key)
        if last.size == size:
            return note  # another worker signed this size meanwhile
    store.prefetch_for(lambda planned: _root_and_proof(planned, last, size))
    root = log.root(size)
    if last is not None and last.size > 0:
        _require_consistent(log, last, size, root)
    note = sign_checkpoint(Checkpoint(settings.log_name, size, root), key)
    session.add(LogCheckpoint(size=size, root=root, note=note.to_bytes().decode(), created_at=datetime.now(UTC)))
    session.flush()
    return note


def _root_and_proof(log: MerkleLog, last: LogCheckpoint | None, size: int) -> None:
    log.root(size)
    if last is not None and 0 < last.size < size:
        log.consistency_proof(last.size, size)


def _require_consistent(log: MerkleLog, last: LogCheckpoint, size: int, root: bytes) -> None:
    try:
        verify_consistency(last.size, size, log.consistency_proof(last.size, size), last.root, root)
    except ProofError as exc:
        raise LedgerIntegrityError(f"the tree of {size} leaves does not extend checkpoint {last.size}: {exc}") from exc


def _checked_note(row: LogCheckpoint, store: SqlNodeStore, settings: Settings, key: SigningKey) -> SignedNote:
    """The stored note of ``row``, after checking it is ours, matches its row, and the stored tree has its root."""
    try:
        note = SignedNote.parse(row.note.encode())
        checkpoint = note.checkpoint
        verify_note(note, [key.public])
    except CheckpointError as exc:
        raise LedgerIntegrityError(f"stored checkpoint {row.size} is not a valid note by this server: {exc}") from exc
    if (checkpoint.size, checkpoint.root) != (row.size, bytes(row.root)):
        raise LedgerIntegrityError(f"stored checkpoint {row.size}: note and row disagree")
    if checkpoint.origin != settings.log_name:
        raise LedgerIntegrityError(f"checkpoint origin {checkpoint.origin!r} is not the log name {settings.log_name!r}")
    store.prefetch(frontier(row.size))
    if MerkleLog(store).root(row.size) != checkpoint.root:
        raise LedgerIntegrityError(f"the stored tree's root at size {row.size} is not the signed one")
    return note


# --- proofs --------------------------------------------------------------------------------------------------


def inclusion(session: Session, index: int, size: int) -> InclusionProof:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves, from stored nodes (two queries)."""
    store = SqlNodeStore(session)
    _require_inclusion_arguments(index, size, store.size())
    log = MerkleLog(store)
    store.prefetch_for(
        lambda planned: (planned.leaf_hash_at(index), planned.inclusion_proof(index, size), planned.root(size))
    )
    return InclusionProof(index, size, log.leaf_hash_at(index), log.inclusion_proof(index, size), log.root(size))


def consistency(session: Session, first: int, second: int) -> ConsistencyProof:
    """Proof that the tree of ``first`` leaves is a prefix of the tree of ``second`` leaves."""
    store = SqlNodeStore(session)
    _require_consistency_arguments(first, second, store.size())
    log = MerkleLog(store)
    store.prefetch_for(lambda p: (p.consistency_proof(first, second), p.root(first), p.root(second)))
    return ConsistencyProof(first, second, log.consistency_proof(first, second), log.root(first), log.root(second))


def _require_inclusion_arguments(index: int, size: int, log_size_now: int) -> None:
    if index < 0 or size < 0:
        raise ApiError(400, "index and size must not be negative", index=index, size=size)
    if size > log_size_now:
        raise ApiError(400, f"size {size} is beyond the log ({log_size_now} leaves)", size=size, log_size=log_size_now)
    if index >= size:
        raise ApiError(400, f"index {index} is not in a tree of {size} leaves", index=index, size=size)


def _require_consistency_arguments(first: int, second: int, log_size_now: int) -> None:
    if first <= 0:
        raise ApiError(400, "first must be at least 1: a proof from the empty tree proves nothing", first=first)
    if first > second:
        raise ApiError(400, f"first ({first}) must not exceed second ({second})", first=first, second=second)
    if second > log_size_now:
        raise ApiError(400, f"second ({second}) is beyond the log ({log_size_now} leaves)", second=second)


# --- re-verification -----------------------------------------------------------------------------------------


def verify_log(session: Session, *, public_key: PublicKey | None = None) -> list[str]:
    """Re-check the whole stored log: every entry against its leaf, every node against its children, every
    checkpoint's root against the tree (and its signature, given the server's ``public_key``). Returns the
    problems found (empty when the log is sound); reads the tables in chunks, so memory stays small."""
    problems = Problems()
    size = log_size(session)
    check_stored_tree(session, size, problems)
    _check_checkpoints(session, size, public_key, problems)
    return problems.report()


def _check_checkpoints(session: Session, size: int, key: PublicKey | None, problems: Problems) -> None:
    store, origins = SqlNodeStore(session), set()
    for row in session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)):
        where = f"checkpoint {row.size}"
        if row.size > size:
            problems.add(f"{where}: beyond the log ({size} leaves)")
            continue
        store.prefetch(frontier(row.size))
        if MerkleLog(store).root(row.size) != bytes(row.root):
            problems.add(f"{where}: its root is not the stored tree's root at that size")
        try:
            note = SignedNote.parse(row.note.encode())
            checkpoint = note.checkpoint
            if key is not None:
                verify_note(note, [key])
        except CheckpointError as exc:
            problems.add(f"{where}: the note is not valid: {exc}")
            continue
        if (checkpoint.size, checkpoint.root) != (row.size, bytes(row.root)):
            problems.add(f"{where}: the signed note names another size or root than its row")
        origins.add(checkpoint.origin)
    if len(origins) > 1:
        problems.add(f"checkpoints name several origins: {sorted(origins)}")
