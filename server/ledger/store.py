"""``SqlNodeStore``: evidence.merkle's NodeStore on the ``log_nodes`` table, with a per-session node cache; and
``check_stored_tree``, which re-derives every stored node from the logged events.

``MerkleLog(SqlNodeStore(session))`` gives roots, inclusion and consistency proofs from stored perfect-subtree
hashes in O(log n) node reads. Node reads one at a time would cost one query each, so the store can *plan* them:
``prefetch_for`` runs the same MerkleLog computation against a recorder that answers dummy hashes and notes which
nodes were asked for, then loads all of them in one query. A proof at a million leaves is then two queries (the
size and the nodes), whatever the tree depth.

Stored nodes never change (the table is append-only), so the cache needs no invalidation; the size is read once
per store, which is why a store lives for one operation (one request) only.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select
from sqlalchemy.orm import Session

from evidence.custody import CustodyEvent
from evidence.errors import FieldproofError
from evidence.merkle import HASH_SIZE, MerkleLog, leaf_hash, node_hash
from server.errors import ApiError
from server.ledger.models import LogEntry, LogNode

NodeKey = tuple[int, int]
_DUMMY = bytes(HASH_SIZE)
_VERIFY_CHUNK = 8192
_MAX_PROBLEMS = 200
_PREFETCH_CHUNK = 400  # (level, index) pairs per query: well under every driver's parameter limit


class LedgerIntegrityError(ApiError):
    """The stored log contradicts itself or an earlier checkpoint: the tables were tampered with."""

    def __init__(self, message: str) -> None:
        super().__init__(500, f"the custody log failed an integrity check: {message}", code="ledger_inconsistent")


class SqlNodeStore:
    """NodeStore over ``log_nodes`` in ``session``'s transaction; the size is derived, never stored."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._nodes: dict[NodeKey, bytes] = {}
        self._size: int | None = None

    def size(self) -> int:
        """Leaves in the log: one more than the highest level-0 node's index (read once, then tracked)."""
        if self._size is None:
            top = self.session.scalar(select(func.max(LogNode.index)).where(LogNode.level == 0))
            self._size = 0 if top is None else int(top) + 1
        return self._size

    def get_node(self, level: int, index: int) -> bytes:
        key = (level, index)
        value = self._nodes.get(key)
        if value is None:
            found = self.session.scalar(select(LogNode.hash).where(LogNode.level == level, LogNode.index == index))
            if found is None:
                raise LedgerIntegrityError(f"tree node ({level}, {index}) is missing")
            value = self._nodes[key] = bytes(found)
        return value

    def save(self, new_size: int, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        """Insert the new nodes (in the session's transaction, so together with the new size or not at all)."""
        leaves = sum(1 for level, _index, _value in nodes if level == 0)
        if new_size != self.size() + leaves:
            raise ValueError(f"saving {leaves} leaves onto {self.size()} does not make {new_size}")
        if nodes:
            rows = [{"level": level, "index": index, "hash": value} for level, index, value in nodes]
            self.session.execute(insert(LogNode), rows)
        self._nodes.update(((level, index), value) for level, index, value in nodes)
        self._size = new_size

    def prefetch(self, keys: Iterable[NodeKey]) -> None:
        """Load the nodes ``keys`` not cached yet, a few hundred per query; a missing one is an integrity error."""
        wanted = sorted({key for key in keys if key not in self._nodes})
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            self._load(chunk)
            missing = [key for key in chunk if key not in self._nodes]
            if missing:
                raise LedgerIntegrityError(f"tree node {missing[0]} is missing")

    def prefetch_for(self, plan: Callable[[MerkleLog], object]) -> None:
        """Load in one go every node that ``plan`` (a computation on a MerkleLog of this size) will read."""
        recorder = _NodeRecorder(self.size())
        plan(MerkleLog(recorder))
        self.prefetch(recorder.keys)

    def _load(self, keys: Sequence[NodeKey]) -> None:
        parameters = {f"l{n}": level for n, (level, _index) in enumerate(keys)}
        parameters.update({f"i{n}": index for n, (_level, index) in enumerate(keys)})
        for level, index, value in self.session.execute(_nodes_query(len(keys)), parameters):
            self._nodes[(int(level), int(index))] = bytes(value)


@functools.cache
def _nodes_query(count: int) -> Select[int, int, bytes]:
    """``count`` nodes by key, as OR-ed primary-key lookups: both databases answer it with index seeks (a row-value
    ``(level, index) IN (...)`` makes SQLite scan the whole table). Built once per count, so SQLAlchemy caches it."""
    wanted = (and_(LogNode.level == bindparam(f"l{n}"), LogNode.index == bindparam(f"i{n}")) for n in range(count))
    return select(LogNode.level, LogNode.index, LogNode.hash).where(or_(*wanted))


class _NodeRecorder:
    """A NodeStore that records which nodes are read and answers zero hashes (for planning reads)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self.keys: set[NodeKey] = set()

    def size(self) -> int:
        return self._size

    def get_node(self, level: int, index: int) -> bytes:
        self.keys.add((level, index))
        return _DUMMY

    def save(self, new_size: int, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        raise NotImplementedError("a recorder only plans reads")


def frontier(size: int) -> list[NodeKey]:
    """The perfect subtrees that make up a tree of ``size`` leaves (what a root or the next append reads)."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


# --- re-verification of the stored tree ----------------------------------------------------------------------


def check_stored_tree(session: Session, size: int, problems: Problems) -> None:
    """Re-check ``log_entries`` and ``log_nodes`` against each other for a log of ``size`` leaves: row counts,
    every entry against its leaf hash, every node against its two children. Reads in chunks."""
    _check_counts(session, size, problems)
    _check_entries(session, size, problems)
    for level in range(1, size.bit_length()):
        _check_level(session, level, size >> level, problems)


class Problems:
    """The problems found, the first ``_MAX_PROBLEMS`` of them in full."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.more = 0

    def add(self, problem: str) -> None:
        if len(self.found) < _MAX_PROBLEMS:
            self.found.append(problem)
        else:
            self.more += 1

    def report(self) -> list[str]:
        return self.found + ([f"... and {self.more} more problems"] if self.more else [])


def _check_counts(session: Session, size: int, problems: Problems) -> None:
    entries = session.scalar(select(func.count()).select_from(LogEntry)) or 0
    if entries != size:
        problems.add(f"log_entries holds {entries} rows but the tree has {size} leaves")
    per_level = session.execute(select(LogNode.level, func.count()).group_by(LogNode.level))
    counts = {int(level): int(count) for level, count in per_level}
    for level in sorted(set(counts) | set(range(size.bit_length()))):
        expected = size >> level
        if counts.get(level, 0) != expected:
            problems.add(f"log_nodes level {level} holds {counts.get(level, 0)} nodes; {size} leaves make {expected}")


def _check_entries(session: Session, size: int, problems: Problems) -> None:
    expected = 0
    while expected < size:
        chunk = _entry_rows(session, expected)
        if not chunk:
            break
        leaves = _nodes(session, 0, chunk[0].index, chunk[-1].index + 1)
        for row in chunk:
            if row.index != expected:
                problems.add(f"log_entries: leaves {expected}..{row.index - 1} are missing")
            _check_entry(row, leaves.get(row.index), problems)
            expected = row.index + 1
    if expected < size:
        problems.add(f"log_entries: leaves {expected}..{size - 1} are missing")


@dataclass(frozen=True)
class _EntryRow:
    index: int
    item_id: str
    seq: int
    event: bytes
    event_hash: str
    leaf_hash: bytes


def _entry_rows(session: Session, start: int) -> list[_EntryRow]:
    """A chunk of entries from index ``start`` on, as plain values (nothing joins the session's identity map)."""
    columns = (LogEntry.index, LogEntry.item_id, LogEntry.seq, LogEntry.event, LogEntry.event_hash, LogEntry.leaf_hash)
    query = select(*columns).where(LogEntry.index >= start).order_by(LogEntry.index).limit(_VERIFY_CHUNK)
    return [
        _EntryRow(int(index), item_id, int(seq), bytes(event), event_hash, bytes(leaf))
        for index, item_id, seq, event, event_hash, leaf in session.execute(query)
    ]


def _check_entry(row: _EntryRow, stored_leaf: bytes | None, problems: Problems) -> None:
    data, where = row.event, f"log entry {row.index}"
    if row.leaf_hash != leaf_hash(data):
        problems.add(f"{where}: its leaf_hash is not the leaf hash of its event")
    if row.event_hash != hashlib.sha256(data).hexdigest():
        problems.add(f"{where}: its event_hash is not the SHA-256 of its event")
    if stored_leaf is None:
        problems.add(f"{where}: tree node (0, {row.index}) is missing")
    elif stored_leaf != leaf_hash(data):
        problems.add(f"{where}: tree node (0, {row.index}) is not the leaf hash of the event")
    try:
        event = CustodyEvent.from_bytes(data)
    except FieldproofError as exc:
        problems.add(f"{where}: the event does not parse: {exc}")
        return
    if (event.item_id, event.seq) != (row.item_id, row.seq):
        problems.add(f"{where}: the row says item {row.item_id} #{row.seq}, the event {event.item_id} #{event.seq}")


def _check_level(session: Session, level: int, count: int, problems: Problems) -> None:
    for start in range(0, count, _VERIFY_CHUNK):
        end = min(start + _VERIFY_CHUNK, count)
        parents, children = _nodes(session, level, start, end), _nodes(session, level - 1, 2 * start, 2 * end)
        for index in range(start, end):
            left, right, parent = children.get(2 * index), children.get(2 * index + 1), parents.get(index)
            if parent is None:
                problems.add(f"tree node ({level}, {index}) is missing")
            elif left is not None and right is not None and parent != node_hash(left, right):
                problems.add(f"tree node ({level}, {index}) is not the hash of its two children")


def _nodes(session: Session, level: int, start: int, end: int) -> dict[int, bytes]:
    """Stored nodes of ``level`` with start <= index < end."""
    query = select(LogNode.index, LogNode.hash).where(
        LogNode.level == level, LogNode.index >= start, LogNode.index < end
    )
    return {int(index): bytes(value) for index, value in session.execute(query)}
