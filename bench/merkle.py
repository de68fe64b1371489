"""Figure e: mean inclusion-proof time in a large ``MerkleLog`` over the mean in a 1,000-leaf one.

A logarithmic proof costs about log2(n) node reads, so 1,000,000 leaves over 1,000 should cost about twice as
much (20 levels against 10), and the goal is a ratio of at most 2. Each round times the same random indices
(fixed seed) against both logs, and the per-proof mean of the best round is compared. An untimed pass counts
the node reads per proof through a counting store, to tell algorithmic work from memory effects.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from bench.progress import note
from bench.report import Figure, Goal
from bench.timing import Samples, Trial, interleave
from evidence.merkle import MerkleLog, NodeStore, leaf_hash, verify_inclusion

SMALL_LOG = 1000
PROOF_GOAL = Goal("<=", 2)
_BATCH = 10_000
_SEED = 20261129


class CountingStore:
    """A NodeStore that passes everything to another and counts node reads."""

    def __init__(self, inner: NodeStore) -> None:
        self.inner = inner
        self.reads = 0

    def size(self) -> int:
        return self.inner.size()

    def get_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.inner.get_node(level, index)

    def save(self, new_size: int, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self.inner.save(new_size, nodes)


def merkle_figure(leaves: int, proofs: int, rounds: int) -> Figure:
    small, _ = build_log(SMALL_LOG)
    large, build_seconds = build_log(leaves)
    small_indices, large_indices = _indices(SMALL_LOG, proofs), _indices(leaves, proofs)
    small_name, large_name = f"{SMALL_LOG:,} leaves", f"{leaves:,} leaves"
    trials = {small_name: _proof_trial(small, small_indices), large_name: _proof_trial(large, large_indices)}
    samples = interleave(trials, rounds, "e. inclusion proofs", unit="µs")
    reads = (_reads_per_proof(large, large_indices), _reads_per_proof(small, small_indices))
    return _figure(
        samples[large_name], samples[small_name], leaves=leaves, proofs=proofs, build_seconds=build_seconds, reads=reads
    )


def build_log(leaves: int) -> tuple[MerkleLog, float]:
    """A log of ``leaves`` leaves, appended in batches as a ledger would; and the seconds it took."""
    note(f"e. building a Merkle log of {leaves:,} leaves")
    log = MerkleLog()
    start = time.perf_counter()
    for first in range(0, leaves, _BATCH):
        log.append_many(_leaf(index) for index in range(first, min(first + _BATCH, leaves)))
    seconds = time.perf_counter() - start
    _check_some_proofs(log)
    note(f"e. built in {seconds:.1f} s")
    return log, seconds


def _leaf(index: int) -> bytes:
    return b'{"bench":"leaf","index":%d}' % index


def _indices(size: int, count: int) -> list[int]:
    sampler = random.Random(_SEED)
    return [sampler.randrange(size) for _ in range(count)]


def _check_some_proofs(log: MerkleLog) -> None:
    """Untimed sanity check: a few proofs verify against the root, so the timed ones are real proofs."""
    root = log.root()
    for index in (0, log.size - 1, *_indices(log.size, 20)):
        verify_inclusion(leaf_hash(_leaf(index)), index, log.size, log.inclusion_proof(index), root)


def _proof_trial(log: MerkleLog, indices: list[int]) -> Trial:
    def trial() -> float:
        start = time.perf_counter()
        for index in indices:
            log.inclusion_proof(index)
        return (time.perf_counter() - start) / len(indices)

    return trial


def _reads_per_proof(log: MerkleLog, indices: list[int]) -> float:
    counting = CountingStore(log.store)
    view = MerkleLog(counting)
    for index in indices:
        view.inclusion_proof(index)
    return counting.reads / len(indices)


def _figure(
    large: Samples, small: Samples, *, leaves: int, proofs: int, build_seconds: float, reads: tuple[float, float]
) -> Figure:
    ratio = large.best / small.best
    return Figure(
        key="e.inclusion_proof",
        name=f"e. inclusion proof at {leaves:,} leaves",
        measured=f"{_micro(large)}, {reads[0]:.1f} node reads (log built in {build_seconds:.1f} s)",
        baseline=f"at {SMALL_LOG:,} leaves: {_micro(small)}, {reads[1]:.1f} node reads",
        ratio=ratio,
        ratio_text=f"{ratio:.2f} (median {large.median / small.median:.2f}; reads {reads[0] / reads[1]:.2f})",
        goal=PROOF_GOAL,
        values={
            "leaves": leaves,
            "baseline_leaves": SMALL_LOG,
            "proofs_per_round": proofs,
            "seconds_per_proof": list(large.seconds),
            "baseline_seconds_per_proof": list(small.seconds),
            "node_reads_per_proof": reads[0],
            "baseline_node_reads_per_proof": reads[1],
            "build_seconds": build_seconds,
        },
    )


def _micro(samples: Samples) -> str:
    return f"{samples.best * 1e6:.2f} µs/proof (median {samples.median * 1e6:.2f})"
