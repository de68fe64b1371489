"""The ledger against an administrator with database access: triggers refuse rewrites, and what an admin can still
do (insert rows, or drop the triggers first) is caught by the log's own checks. Concurrent appenders serialize."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing

import psycopg
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from evidence.checkpoint import Checkpoint, sign_checkpoint
from evidence.keys import generate_key
from evidence.merkle import root_hash, verify_consistency
from server.config import Settings
from server.db import make_engine, session_factory, transaction
from server.ledger import service
from server.ledger.models import LogCheckpoint, LogEntry
from server.ledger.store import LedgerIntegrityError
from tests.server.conftest import raw_engine, text
from tests.server.test_ledger_service import append_in_transaction, chain

TABLES = ("log_entries", "log_nodes", "log_checkpoints")
_REWRITES = {
    "log_entries": ("UPDATE log_entries SET seq = seq + 1", "DELETE FROM log_entries WHERE seq = 0"),
    "log_nodes": ("UPDATE log_nodes SET hash = hash", "DELETE FROM log_nodes"),
    "log_checkpoints": ("UPDATE log_checkpoints SET note = note", "DELETE FROM log_checkpoints"),
}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def admin(database_url: str) -> Iterator[Engine]:
    """A plain engine on the database, as an administrator with database access would have."""
    engine: Engine = raw_engine(database_url)
    yield engine
    engine.dispose()


def _grow(sessions: sessionmaker[Session], settings: Settings, *lengths: int) -> None:
    """Append chains of the given lengths, taking a checkpoint after each."""
    for length in lengths:
        append_in_transaction(sessions, chain(length))
        with transaction(sessions) as session:
            service.latest_checkpoint(session, settings)


def _drop_triggers(admin: Engine, table: str) -> None:
    with admin.begin() as connection:
        if admin.dialect.name == "sqlite":
            for action in ("update", "delete"):
                connection.execute(text(f"DROP TRIGGER {table}_no_{action}"))
        else:
            connection.execute(text(f"DROP TRIGGER {table}_no_change ON {table}"))


def _problems(sessions: sessionmaker[Session], settings: Settings) -> list[str]:
    with transaction(sessions) as session:
        return service.verify_log(session, public_key=service.server_key(settings).public)


def test_the_database_refuses_to_rewrite_the_ledger(
    sessions: sessionmaker[Session], settings: Settings, admin: Engine
) -> None:
    _grow(sessions, settings, 3, 2)
    statements = [statement for table in TABLES for statement in _REWRITES[table]]
    if admin.dialect.name == "postgresql":
        statements += [f"TRUNCATE {table}" for table in TABLES]
    for statement in statements:
        with pytest.raises(DBAPIError, match="never updated or deleted"), admin.begin() as connection:
            connection.execute(text(statement))
    assert _problems(sessions, settings) == []


def test_a_node_rewritten_behind_dropped_triggers_is_found(
    sessions: sessionmaker[Session], settings: Settings, admin: Engine
) -> None:
    _grow(sessions, settings, 4, 2)  # 6 leaves; node (1, 1) covers leaves 2 and 3
    _drop_triggers(admin, "log_nodes")
    with admin.begin() as connection:
        connection.execute(text('UPDATE log_nodes SET hash = :h WHERE level = 0 AND "index" = 2'), {"h": bytes(32)})
    problems = _problems(sessions, settings)
    assert any("tree node (0, 2) is not the leaf hash" in problem for problem in problems)
    assert any("tree node (1, 1) is not the hash of its two children" in problem for problem in problems)


def test_a_rewritten_root_node_stops_the_server_signing(
    sessions: sessionmaker[Session], settings: Settings, admin: Engine
) -> None:
    _grow(sessions, settings, 4)  # checkpoint at 4 leaves: its root is node (2, 0)
    _drop_triggers(admin, "log_nodes")
    with admin.begin() as connection:
        connection.execute(text('UPDATE log_nodes SET hash = :h WHERE level = 2 AND "index" = 0'), {"h": bytes(32)})
    for grow_first in (False, True):
        if grow_first:
            append_in_transaction(sessions, chain(3))
        with (
            pytest.raises(LedgerIntegrityError, match="root at size 4 is not the signed one"),
            transaction(sessions) as session,
        ):
            service.latest_checkpoint(session, settings)
    with transaction(sessions) as session:
        assert [row.size for row in session.scalars(select(LogCheckpoint))] == [4]  # nothing new was signed
    assert any("checkpoint 4: its root is not" in problem for problem in _problems(sessions, settings))


def test_a_rewritten_inner_node_breaks_consistency_and_stops_signing(
    sessions: sessionmaker[Session], settings: Settings, admin: Engine
) -> None:
    _grow(sessions, settings, 3)  # checkpoint at 3 leaves
    append_in_transaction(sessions, chain(1))  # node (2, 0) is made from (1, 0) and (1, 1)
    _drop_triggers(admin, "log_nodes")
    with admin.begin() as connection:
        connection.execute(text('UPDATE log_nodes SET hash = :h WHERE level = 2 AND "index" = 0'), {"h": bytes(32)})
    with pytest.raises(LedgerIntegrityError, match="does not extend checkpoint 3"), transaction(sessions) as session:
        service.latest_checkpoint(session, settings)


def test_a_rewritten_event_is_found(sessions: sessionmaker[Session], settings: Settings, admin: Engine) -> None:
    _grow(sessions, settings, 3)
    forged = chain(2)[1].to_bytes()
    _drop_triggers(admin, "log_entries")
    with admin.begin() as connection:
        connection.execute(text('UPDATE log_entries SET event = :e WHERE "index" = 1'), {"e": forged})
    problems = _problems(sessions, settings)
    assert any("log entry 1: its leaf_hash is not the leaf hash" in problem for problem in problems)
    assert any("log entry 1: the row says item" in problem for problem in problems)


def test_an_inserted_checkpoint_is_refused(sessions: sessionmaker[Session], settings: Settings, admin: Engine) -> None:
    _grow(sessions, settings, 2)
    append_in_transaction(sessions, chain(2))  # 4 leaves, last checkpoint at 2
    impostor = sign_checkpoint(Checkpoint(settings.log_name, 4, bytes(32)), generate_key("impostor"))
    with admin.begin() as connection:
        insert = text("INSERT INTO log_checkpoints (size, root, note, created_at) VALUES (:s, :r, :n, :t)")
        connection.execute(insert, {"s": 4, "r": bytes(32), "n": impostor.to_bytes().decode(), "t": "2026-05-01"})
    with pytest.raises(LedgerIntegrityError, match="not a valid note by this server"), transaction(sessions) as session:
        service.latest_checkpoint(session, settings)
    problems = _problems(sessions, settings)
    assert any("checkpoint 4: its root is not" in problem for problem in problems)
    assert any("checkpoint 4: the note is not valid" in problem for problem in problems)


def test_a_checkpoint_beyond_the_log_is_refused(
    sessions: sessionmaker[Session], settings: Settings, admin: Engine
) -> None:
    _grow(sessions, settings, 2)
    with admin.begin() as connection:
        insert = text("INSERT INTO log_checkpoints (size, root, note, created_at) VALUES (9, :r, 'x', '2026-05-01')")
        connection.execute(insert, {"r": bytes(32)})
    with (
        pytest.raises(LedgerIntegrityError, match="a checkpoint of size 9 exists but the log holds 2"),
        transaction(sessions) as session,
    ):
        service.latest_checkpoint(session, settings)
    assert "checkpoint 9: beyond the log (2 leaves)" in _problems(sessions, settings)


def test_concurrent_appenders_make_one_gapless_consistent_log(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    workers, batches, per_batch = 4, 6, 3
    failures: list[BaseException] = []
    start = threading.Barrier(workers)

    def work() -> None:
        try:
            start.wait()
            for _ in range(batches):
                append_in_transaction(sessions, chain(per_batch))
                with transaction(sessions) as session:
                    service.latest_checkpoint(session, settings)
        except BaseException as exc:  # reported below, with the other workers' results
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    total = workers * batches * per_batch
    with transaction(sessions) as session:
        logged = [bytes(row.event) for row in session.scalars(select(LogEntry).order_by(LogEntry.index))]
        indices = list(session.scalars(select(LogEntry.index).order_by(LogEntry.index)))
        checkpoints = list(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)))
        proofs = [service.consistency(session, a.size, b.size) for a, b in itertools.pairwise(checkpoints)]
        assert service.log_size(session) == total
    assert indices == list(range(total))
    assert checkpoints[-1].size == total
    assert bytes(checkpoints[-1].root) == root_hash(logged)
    for (a, b), proof in zip(itertools.pairwise(checkpoints), proofs, strict=True):
        verify_consistency(a.size, b.size, proof.proof, bytes(a.root), bytes(b.root))
    assert _problems(sessions, settings) == []


def test_an_append_holds_the_log_lock_until_commit(sessions: sessionmaker[Session], database_url: str) -> None:
    session = sessions()
    try:
        service.append(session, chain(1))
        assert not _may_write_the_log(database_url)
        session.commit()
    finally:
        session.close()
    assert _may_write_the_log(database_url)


def _may_write_the_log(database_url: str) -> bool:
    """Whether another connection could start appending now (without waiting)."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return False
            other.execute("ROLLBACK")
            return True
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as other:
        row = other.execute("SELECT pg_try_advisory_lock(%s)", (service.LOG_LOCK_ID,)).fetchone()
        if row is not None and row[0]:
            other.execute("SELECT pg_advisory_unlock(%s)", (service.LOG_LOCK_ID,))
        return bool(row and row[0])
