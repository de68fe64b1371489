"""The ledger service on both databases: appends, roots, duplicates, entries, checkpoints, proofs, the server key."""

from __future__ import annotations

import hashlib
import itertools
import stat
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from evidence.checkpoint import verify_note
from evidence.custody import CustodyEvent, new_event
from evidence.keys import SigningKey, generate_key, load_signing_key
from evidence.merkle import (
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from server.config import Settings
from server.db import make_engine, session_factory, transaction
from server.errors import ApiError
from server.ledger import service
from server.ledger.models import LogCheckpoint
from server.ledger.store import SqlNodeStore

GATEWAY = generate_key("test-gateway")
_ACTIONS = ("acquired", "imported", "uploaded", "received", "verified", "sealed")
_START = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
_ITEMS = itertools.count()


def chain(length: int, item_id: str | None = None, key: SigningKey = GATEWAY) -> list[CustodyEvent]:
    """A fresh item's custody chain of ``length`` signed events."""
    item_id = item_id or f"item-{next(_ITEMS)}"
    sha = hashlib.sha256(item_id.encode()).hexdigest()
    events: list[CustodyEvent] = []
    for seq in range(length):
        at = _START + timedelta(minutes=seq)
        previous = events[-1] if events else None
        action = _ACTIONS[seq % len(_ACTIONS)]
        events.append(
            new_event(key=key, item_id=item_id, item_sha256=sha, action=action, at=at, previous=previous, device="gw")
        )
    return events


def append_in_transaction(sessions: sessionmaker[Session], events: Sequence[CustodyEvent]) -> list[int]:
    with transaction(sessions) as session:
        return service.append(session, events)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def test_appends_get_consecutive_indices_and_the_root_of_the_events(sessions: sessionmaker[Session]) -> None:
    logged: list[bytes] = []
    for length in (1, 4, 6, 1):
        events = chain(length)
        indices = append_in_transaction(sessions, events)
        assert indices == list(range(len(logged), len(logged) + length))
        logged += [event.to_bytes() for event in events]
        with transaction(sessions) as session:
            assert service.log_size(session) == len(logged)
            assert MerkleLog(SqlNodeStore(session)).root() == root_hash(logged)


def test_an_event_already_logged_is_refused_and_nothing_is_appended(sessions: sessionmaker[Session]) -> None:
    events = chain(3)
    append_in_transaction(sessions, events[:2])
    for attempt in ([events[1], events[2]], [events[2], events[2]]):
        with pytest.raises(ApiError) as refused:
            append_in_transaction(sessions, attempt)
        assert refused.value.status == 409
    with transaction(sessions) as session:
        assert service.log_size(session) == 2
    assert append_in_transaction(sessions, [events[2]]) == [2]


def test_entries_by_item_and_by_index(sessions: sessionmaker[Session]) -> None:
    first, second = chain(3), chain(2)
    append_in_transaction(sessions, [first[0], second[0], first[1], second[1], first[2]])
    with transaction(sessions) as session:
        rows = service.entries_for_item(session, first[0].item_id)
        assert [row.seq for row in rows] == [0, 1, 2]
        assert [row.index for row in rows] == [0, 2, 4]
        assert [row.custody_event().to_bytes() for row in rows] == [event.to_bytes() for event in first]
        assert rows[1].event_hash == first[1].event_hash
        assert bytes(rows[1].leaf_hash) == leaf_hash(first[1].to_bytes())
        assert service.entry(session, 3).custody_event().item_id == second[0].item_id
        assert service.entries_for_item(session, "no-such-item") == []
        with pytest.raises(ApiError) as missing:
            service.entry(session, 5)
        assert missing.value.status == 404


def test_checkpoints_are_signed_stored_once_per_size_and_consistent(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    events = chain(5)
    append_in_transaction(sessions, events[:3])
    public = service.server_key(settings).public
    with transaction(sessions) as session:
        first = service.latest_checkpoint(session, settings)
    with transaction(sessions) as session:
        again = service.latest_checkpoint(session, settings)
    assert again.to_bytes() == first.to_bytes()
    assert verify_note(first, [public]) == [public]
    head = first.checkpoint
    assert (head.origin, head.size, head.root) == (settings.log_name, 3, root_hash([e.to_bytes() for e in events[:3]]))
    append_in_transaction(sessions, events[3:])
    with transaction(sessions) as session:
        later = service.latest_checkpoint(session, settings).checkpoint
        proof = service.consistency(session, head.size, later.size)
        stored = session.scalar(select(func.count()).select_from(LogCheckpoint))
    assert later.size == 5
    verify_consistency(head.size, later.size, proof.proof, head.root, later.root)
    assert stored == 2


def test_the_empty_log_has_a_checkpoint_of_the_empty_tree(sessions: sessionmaker[Session], settings: Settings) -> None:
    with transaction(sessions) as session:
        head = service.latest_checkpoint(session, settings).checkpoint
    assert (head.size, head.root) == (0, root_hash([]))
    append_in_transaction(sessions, chain(2))
    with transaction(sessions) as session:
        assert service.latest_checkpoint(session, settings).checkpoint.size == 2


def test_stored_proofs_equal_the_reference_proofs(sessions: sessionmaker[Session]) -> None:
    leaves: list[bytes] = []

    @hypothesis_settings(max_examples=30, deadline=None, database=None)
    @given(
        batches=st.lists(st.integers(1, 4), max_size=3),
        picks=st.tuples(st.integers(0, 2**20), st.integers(0, 2**20), st.integers(0, 2**20)),
    )
    def grow_and_prove(batches: list[int], picks: tuple[int, int, int]) -> None:
        # Each example appends to the same log (it only grows), then proves at a random point of it.
        events = [event for length in batches for event in chain(length)]
        append_in_transaction(sessions, events)
        leaves.extend(event.to_bytes() for event in events)
        if leaves:
            size = 1 + picks[0] % len(leaves)
            _check_proofs(sessions, leaves, size, index=picks[1] % size, first=1 + picks[2] % size)

    grow_and_prove()


def _check_proofs(sessions: sessionmaker[Session], leaves: list[bytes], size: int, *, index: int, first: int) -> None:
    with transaction(sessions) as session:
        included = service.inclusion(session, index, size)
        consistent = service.consistency(session, first, size)
    assert included.proof == inclusion_proof(leaves, index, size)
    assert included.root == root_hash(leaves[:size])
    verify_inclusion(leaf_hash(leaves[index]), index, size, included.proof, included.root)
    assert consistent.proof == consistency_proof(leaves, first, size)
    assert consistent.first_root == root_hash(leaves[:first])
    verify_consistency(first, size, consistent.proof, consistent.first_root, consistent.second_root)


def test_proof_arguments_outside_the_log_are_refused_with_a_reason(sessions: sessionmaker[Session]) -> None:
    append_in_transaction(sessions, chain(4))
    cases = [
        (service.inclusion, (4, 4)),
        (service.inclusion, (0, 5)),
        (service.inclusion, (-1, 3)),
        (service.consistency, (0, 3)),
        (service.consistency, (3, 2)),
        (service.consistency, (2, 9)),
    ]
    with transaction(sessions) as session:
        for function, arguments in cases:
            with pytest.raises(ApiError) as refused:
                function(session, *arguments)
            assert refused.value.status == 400
            assert refused.value.message


def test_a_fresh_log_verifies_clean(sessions: sessionmaker[Session], settings: Settings) -> None:
    for length in (3, 1, 8, 5):
        append_in_transaction(sessions, chain(length))
        with transaction(sessions) as session:
            service.latest_checkpoint(session, settings)
    with transaction(sessions) as session:
        assert service.verify_log(session, public_key=service.server_key(settings).public) == []


def test_the_server_key_is_made_once_private_and_named(settings: Settings) -> None:
    key = service.server_key(settings)
    path = settings.key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.name == settings.key_name
    assert load_signing_key(path).public == key.public
    assert path.with_name("server.key.pub").read_text().strip() == key.public.to_text()
    service._keys.clear()  # as a new worker process would start
    assert service.server_key(settings).public == key.public
    assert sorted(p.name for p in path.parent.iterdir()) == ["server.key", "server.key.pub"]  # no staging left
