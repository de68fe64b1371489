"""Ledger figures: custody events appended per second, and inclusion-proof latency at a million leaves.

**Appends** (one figure per database): what registration does with each batch of events, timed end to end: parse
each event's bytes, verify its Ed25519 signature and the item's chain, then ``server.ledger.service.append`` in one
transaction per batch (``BATCH`` events, one item's chain) and commit. SQLite is a file in the scratch directory;
PostgreSQL a temporary database on the local server (dropped afterwards). The baseline is bare Ed25519 verification
of the same signatures, measured in the same rounds; the ratio (appends over bare verifications, below 1) shows
what the database adds. No goal: INFO.

**Proofs** (one figure per database): a log of ``leaves`` synthetic leaves is written in bulk (its perfect-subtree
nodes computed in memory, then ``executemany`` on SQLite and ``COPY`` on PostgreSQL), and inclusion proofs of random
leaves are asked of ``service.inclusion``, each in its own session and transaction as a request would. The mean per
proof is compared with the same at ``SMALL_LOG`` leaves; an untimed pass counts SQL statements per proof. INFO.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from bench.files import workspace
from bench.progress import note
from bench.report import Figure, rate_text
from bench.timing import Samples, Trial, interleave
from evidence.custody import CustodyEvent, new_event, verify_chain, verify_event_signature
from evidence.keys import PublicKey, SigningKey, generate_key
from evidence.merkle import leaf_hash, node_hash, verify_inclusion
from server.db import make_engine, session_factory, transaction
from server.ledger import service
from server.schema import build_schema

POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/postgres"
BATCH = 10
SMALL_LOG = 1000
DATABASES = ("sqlite", "postgresql")
_SEED = 20261129
_START = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
_ACTIONS = ("acquired", "imported", "uploaded", "received", "verified", "accessed", "annotated", "exported")
_ROWS = 50_000  # rows per executemany / COPY flush while loading a synthetic log


def ledger_figures(
    *,
    workdir: Path,
    rounds: int,
    append_events: int = 5_000,
    leaves: int = 1_000_000,
    proofs: int = 2_000,
    postgres_url: str | None = POSTGRES_URL,
) -> list[Figure]:
    """Append figures (SQLite, PostgreSQL), then proof figures (SQLite, PostgreSQL); PostgreSQL ones are SKIP
    (with the reason) when ``postgres_url`` is None or the server cannot be reached."""
    skip = _postgres_problem(postgres_url)
    kinds = [kind for kind in DATABASES if kind == "sqlite" or skip is None]
    with workspace(workdir) as work:
        figures = append_figures(work, kinds, rounds, append_events, postgres_url or "")
        figures += [
            proof_figure(work, kind, rounds=rounds, leaves=leaves, proofs=proofs, postgres_url=postgres_url or "")
            for kind in kinds
        ]
    if skip is not None:
        figures += [_skipped(key, name, skip) for key, name in _POSTGRES_FIGURES]
    return figures


_POSTGRES_FIGURES = (
    ("l.append_postgresql", "l1. ledger appends, PostgreSQL"),
    ("l.proof_postgresql", "l2. inclusion proof via ledger, PostgreSQL"),
)


def _postgres_problem(url: str | None) -> str | None:
    if url is None:
        return "no PostgreSQL URL given"
    try:
        with psycopg.connect(_plain(url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {url}: {str(exc).strip()[:80]}"


def _skipped(key: str, name: str, reason: str) -> Figure:
    return Figure(key=key, name=name, measured="-", baseline="-", ratio=None, goal=None, skipped=reason)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --- databases -----------------------------------------------------------------------------------------------


@contextmanager
def bench_database(kind: str, work: Path, postgres_url: str) -> Iterator[Engine]:
    """A fresh database with the server's schema (a file, or a temporary PostgreSQL database dropped afterwards)."""
    name = f"fp_bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{work / (name + '.sqlite3')}"
    else:
        with psycopg.connect(_plain(postgres_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{postgres_url.rpartition('/')[0]}/{name}"
    engine = make_engine(url)
    try:
        build_schema(engine)
        yield engine
    finally:
        engine.dispose()
        if kind != "sqlite":
            with psycopg.connect(_plain(postgres_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            note(f"l. dropped database {name}")


# --- appends -------------------------------------------------------------------------------------------------


def append_figures(work: Path, kinds: Sequence[str], rounds: int, events: int, postgres_url: str) -> list[Figure]:
    """Events appended per second through the service, per database, against bare Ed25519 verification."""
    key = generate_key("bench-gateway")
    note(f"l1. signing {events * rounds * (len(kinds) + 1):,} custody events ({BATCH} per item)")
    pools = {kind: [_signed_batches(key, events) for _ in range(rounds)] for kind in ["verify", *kinds]}
    keys = {key.key_id: key.public}
    with _engines(kinds, work, postgres_url) as engines:
        trials: dict[str, Trial] = {"Ed25519 verify": _bare_trial(key.public, pools["verify"])}
        for kind in kinds:
            trials[f"append {kind}"] = _append_trial(session_factory(engines[kind]), pools[kind], keys)
        samples = interleave(trials, rounds, "l1. appends")
    bare = samples["Ed25519 verify"]
    return [_append_figure(kind, samples[f"append {kind}"], bare, events) for kind in kinds]


@contextmanager
def _engines(kinds: Sequence[str], work: Path, postgres_url: str) -> Iterator[dict[str, Engine]]:
    if not kinds:
        yield {}
        return
    with bench_database(kinds[0], work, postgres_url) as engine, _engines(kinds[1:], work, postgres_url) as rest:
        yield {kinds[0]: engine, **rest}


def _signed_batches(key: SigningKey, events: int) -> list[list[bytes]]:
    """``events`` signed events as bytes, one item's chain of up to ``BATCH`` events per batch."""
    batches: list[list[bytes]] = []
    for first in range(0, events, BATCH):
        item_id, chain = f"bench-{uuid.uuid4().hex}", list[CustodyEvent]()
        sha = hashlib.sha256(item_id.encode()).hexdigest()
        for seq in range(min(BATCH, events - first)):
            at = _START + timedelta(seconds=seq)
            previous = chain[-1] if chain else None
            action = _ACTIONS[seq % len(_ACTIONS)]
            chain.append(
                new_event(
                    key=key,
                    item_id=item_id,
                    item_sha256=sha,
                    action=action,
                    at=at,
                    previous=previous,
                    device="bench-monitor",
                )
            )
        batches.append([event.to_bytes() for event in chain])
    return batches


def _append_trial(sessions: sessionmaker[Session], pool: list[list[list[bytes]]], keys: dict[str, PublicKey]) -> Trial:
    """Each call appends the next round's batches: parse, verify signatures and chain, append, commit."""

    def trial() -> float:
        batches = pool.pop()
        start = time.perf_counter()
        for batch in batches:
            events = [CustodyEvent.from_bytes(data) for data in batch]
            for custody_event in events:
                verify_event_signature(custody_event, keys)
            verify_chain(events)
            with transaction(sessions) as session:
                service.append(session, events)
        return time.perf_counter() - start

    return trial


def _bare_trial(public: PublicKey, pool: list[list[list[bytes]]]) -> Trial:
    """Each call verifies the next round's signatures with cryptography's Ed25519 and nothing else."""
    verifier = Ed25519PublicKey.from_public_bytes(public.raw)

    def trial() -> float:
        events = [CustodyEvent.from_bytes(data) for batch in pool.pop() for data in batch]
        signed = [(e.signature, e.signed_message()) for e in events]
        start = time.perf_counter()
        for signature, message in signed:
            verifier.verify(signature, message)
        return time.perf_counter() - start

    return trial


def _append_figure(kind: str, appended: Samples, bare: Samples, events: int) -> Figure:
    rate, bare_rate = events / appended.best, events / bare.best
    return Figure(
        key=f"l.append_{kind}",
        name=f"l1. ledger appends, {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}",
        measured=f"{rate_text(rate)} (median {rate_text(events / appended.median)}), {BATCH} events/transaction, "
        "signatures and chains verified",
        baseline=f"bare Ed25519 verify {rate_text(bare_rate)}",
        ratio=rate / bare_rate,
        goal=None,
        values={
            "events_per_round": events,
            "batch": BATCH,
            "seconds": list(appended.seconds),
            "baseline_seconds": list(bare.seconds),
            "events_per_second": rate,
            "baseline_per_second": bare_rate,
        },
    )


# --- proofs --------------------------------------------------------------------------------------------------


def proof_figure(work: Path, kind: str, *, rounds: int, leaves: int, proofs: int, postgres_url: str) -> Figure:
    """Mean ``service.inclusion`` time at ``leaves`` leaves over the mean at ``SMALL_LOG`` leaves."""
    with bench_database(kind, work, postgres_url) as small, bench_database(kind, work, postgres_url) as large:
        load_synthetic_log(small, SMALL_LOG)
        build_seconds = load_synthetic_log(large, leaves)
        small_indices, large_indices = _indices(SMALL_LOG, proofs), _indices(leaves, proofs)
        trials = {
            f"{SMALL_LOG:,} leaves": _proof_trial(small, SMALL_LOG, small_indices),
            f"{leaves:,} leaves": _proof_trial(large, leaves, large_indices),
        }
        samples = interleave(trials, rounds, f"l2. proofs {kind}", unit="µs")
        statements = _statements_per_proof(large, leaves, large_indices[:50])
    return _proof_figure(
        kind,
        samples[f"{leaves:,} leaves"],
        samples[f"{SMALL_LOG:,} leaves"],
        leaves=leaves,
        proofs=proofs,
        build_seconds=build_seconds,
        statements=statements,
    )


def _synthetic_leaf(index: int) -> bytes:
    return b'{"bench":"leaf","index":%d}' % index


def _levels(leaves: int) -> Iterator[list[bytes]]:
    """The log's perfect-subtree hashes, level by level (level 0: the leaf hashes)."""
    level = [leaf_hash(_synthetic_leaf(index)) for index in range(leaves)]
    while level:
        yield level
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]


def load_synthetic_log(engine: Engine, leaves: int) -> float:
    """Write a log of ``leaves`` synthetic leaves (entries and nodes) in bulk; return the seconds it took."""
    note(f"l2. writing a log of {leaves:,} leaves ({engine.dialect.name})")
    start = time.perf_counter()
    node_rows = (
        (level, index, value) for level, hashes in enumerate(_levels(leaves)) for index, value in enumerate(hashes)
    )
    stamp = _START.strftime("%Y-%m-%d %H:%M:%S.%f") + ("" if engine.dialect.name == "sqlite" else "+00")
    entry_rows = (_entry_row(index, stamp) for index in range(leaves))
    raw = engine.raw_connection()
    try:
        loader = _load_sqlite if engine.dialect.name == "sqlite" else _load_postgresql
        loader(raw.driver_connection, node_rows, entry_rows)
        raw.commit()
    finally:
        raw.close()
    seconds = time.perf_counter() - start
    note(f"l2. written in {seconds:.1f} s")
    return seconds


def _entry_row(index: int, stamp: str) -> tuple[Any, ...]:
    data = _synthetic_leaf(index)
    item = f"bench-{index // BATCH}"
    return (index, item, index % BATCH, data, hashlib.sha256(data).hexdigest(), leaf_hash(data), stamp)


_ENTRY_COLUMNS = '"index", item_id, seq, event, event_hash, leaf_hash, appended_at'


def _load_sqlite(connection: Any, nodes: Iterator[tuple[Any, ...]], entries: Iterator[tuple[Any, ...]]) -> None:
    cursor = connection.cursor()
    cursor.execute("BEGIN")  # the server's connections run in autocommit mode and BEGIN themselves
    cursor.executemany('INSERT INTO log_nodes (level, "index", hash) VALUES (?, ?, ?)', nodes)
    cursor.executemany(f"INSERT INTO log_entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", entries)
    cursor.execute("COMMIT")
    cursor.close()


def _load_postgresql(connection: Any, nodes: Iterator[tuple[Any, ...]], entries: Iterator[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor:
        with cursor.copy('COPY log_nodes (level, "index", hash) FROM STDIN') as copy:
            for row in nodes:
                copy.write_row(row)
        with cursor.copy(f"COPY log_entries ({_ENTRY_COLUMNS}) FROM STDIN") as copy:
            for row in entries:
                copy.write_row(row)
        cursor.execute("ANALYZE log_nodes")
        cursor.execute("ANALYZE log_entries")


def _indices(size: int, count: int) -> list[int]:
    sampler = random.Random(_SEED)
    return [sampler.randrange(size) for _ in range(count)]


def _proof_trial(engine: Engine, size: int, indices: list[int]) -> Trial:
    """Mean seconds per proof, each in its own session and transaction, as one request would be."""
    sessions = session_factory(engine)
    _check_some_proofs(sessions, size, indices[:20])

    def trial() -> float:
        start = time.perf_counter()
        for index in indices:
            with transaction(sessions) as session:
                service.inclusion(session, index, size)
        return (time.perf_counter() - start) / len(indices)

    return trial


def _check_some_proofs(sessions: sessionmaker[Session], size: int, indices: list[int]) -> None:
    """Untimed: proofs verify against the root, so the timed ones are real proofs."""
    for index in indices:
        with transaction(sessions) as session:
            proof = service.inclusion(session, index, size)
        verify_inclusion(leaf_hash(_synthetic_leaf(index)), index, size, proof.proof, proof.root)


def _statements_per_proof(engine: Engine, size: int, indices: list[int]) -> float:
    """SQL statements one proof request issues (BEGIN and COMMIT included where the driver sends them)."""
    count = 0

    def counted(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", counted)
    try:
        _check_some_proofs(session_factory(engine), size, indices)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count / len(indices)


def _proof_figure(
    kind: str, large: Samples, small: Samples, *, leaves: int, proofs: int, build_seconds: float, statements: float
) -> Figure:
    ratio = large.best / small.best
    return Figure(
        key=f"l.proof_{kind}",
        name=f"l2. inclusion proof via ledger at {leaves:,} leaves, {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}",
        measured=f"{_micro(large)}, {statements:.1f} SQL statements/proof (log written in {build_seconds:.0f} s)",
        baseline=f"at {SMALL_LOG:,} leaves: {_micro(small)}",
        ratio=ratio,
        ratio_text=f"{ratio:.2f} (median {large.median / small.median:.2f})",
        goal=None,
        values={
            "leaves": leaves,
            "baseline_leaves": SMALL_LOG,
            "proofs_per_round": proofs,
            "seconds_per_proof": list(large.seconds),
            "baseline_seconds_per_proof": list(small.seconds),
            "statements_per_proof": statements,
            "build_seconds": build_seconds,
        },
    )


def _micro(samples: Samples) -> str:
    return f"{samples.best * 1e6:.0f} µs/proof (median {samples.median * 1e6:.0f})"
