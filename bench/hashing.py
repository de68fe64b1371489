"""Figures a and b: hash-while-copy against ``cp && sync && openssl dgst``, hashing against ``openssl dgst``.

Fairness: one source file, warmed into the page cache before every run; every destination on the same
filesystem (the run's work directory); destinations removed and everything synced between runs, untimed.
Each copy variant ends with its data durable: ours fsyncs the copy (and the store its directory), the
baseline runs ``sync``. The baseline's second pass reads its fresh copy from the page cache, the case most
favourable to it. Before each copy run a scratch file is written and deleted (see ``recycle_memory``).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.files import check_digest, openssl_sha256, recycle_memory, settle
from bench.report import Figure, Goal, seconds_text
from bench.timing import Samples, Trial, interleave, timed
from evidence.hashing import ContentStore, copy_hashing, sha256_file

COPY_GOAL = Goal(">=", 1.1)
HASH_GOAL = Goal(">=", 0.9)


def copy_figures(source: Path, work: Path, expected: str, rounds: int, *, recycle: bool) -> list[Figure]:
    prepare = _preparation(source, work / "scratch.bin" if recycle else None)
    trials = {
        "cp+sync+openssl": _baseline_copy(prepare, source, work / "baseline-copy.bin", expected),
        "put_file": _put_file(prepare, source, ContentStore(work / "store"), expected),
        "copy_hashing": _copy_hashing(prepare, source, work / "copy.bin", expected),
    }
    samples = interleave(trials, rounds, "a. hash-while-copy")
    baseline = samples["cp+sync+openssl"]
    size = source.stat().st_size
    label = "cp && sync && openssl dgst"
    put_file = _speed_figure(
        "a1.put_file", "a. hash-while-copy: ContentStore.put_file", samples["put_file"],
        baseline=baseline, label=label, size=size, goal=COPY_GOAL,
    )  # fmt: skip
    copy = _speed_figure(
        "a2.copy_hashing", "a. hash-while-copy: copy_hashing", samples["copy_hashing"],
        baseline=baseline, label=label, size=size, goal=COPY_GOAL,
    )  # fmt: skip
    return [put_file, copy]


def hash_figures(source: Path, expected: str, rounds: int) -> list[Figure]:
    trials = {"openssl dgst": _baseline_hash(source, expected), "sha256_file": _sha256_file(source, expected)}
    samples = interleave(trials, rounds, "b. hashing")
    size = source.stat().st_size
    baseline = samples["openssl dgst"]
    figure = _speed_figure(
        "b.sha256_file", "b. hashing: sha256_file", samples["sha256_file"],
        baseline=baseline, label="openssl dgst -sha256", size=size, goal=HASH_GOAL,
    )  # fmt: skip
    return [figure]


def _speed_figure(
    key: str, name: str, ours: Samples, *, baseline: Samples, label: str, size: int, goal: Goal
) -> Figure:
    """A speed ratio: baseline time over our time (above 1 means ours is faster), best of the rounds."""
    ratio, median_ratio = baseline.best / ours.best, baseline.median / ours.median
    return Figure(
        key=key,
        name=name,
        measured=f"{seconds_text(ours.best, ours.median)} ({size / ours.best / 1e9:.2f} GB/s)",
        baseline=f"{label}: {seconds_text(baseline.best, baseline.median)}",
        ratio=ratio,
        ratio_text=f"{ratio:.2f} (median {median_ratio:.2f})",
        goal=goal,
        values={
            "bytes": size,
            "seconds": list(ours.seconds),
            "baseline_seconds": list(baseline.seconds),
            "median_ratio": median_ratio,
        },
    )


def _preparation(source: Path, scratch: Path | None) -> Callable[[], None]:
    """The untimed set-up of every copy run: recycle memory (unless told not to), sync, warm the source."""
    size = source.stat().st_size

    def prepare() -> None:
        if scratch is not None:
            recycle_memory(scratch, size)
        settle(source)

    return prepare


def _baseline_copy(prepare: Callable[[], None], source: Path, destination: Path, expected: str) -> Trial:
    def trial() -> float:
        prepare()
        start = time.perf_counter()
        subprocess.run(["cp", str(source), str(destination)], check=True)
        subprocess.run(["sync"], check=True)
        digest = openssl_sha256(destination)
        elapsed = time.perf_counter() - start
        destination.unlink()
        check_digest("cp+sync+openssl", digest, expected)
        return elapsed

    return trial


def _put_file(prepare: Callable[[], None], source: Path, store: ContentStore, expected: str) -> Trial:
    def trial() -> float:
        prepare()
        start = time.perf_counter()
        blob = store.put_file(source)
        elapsed = time.perf_counter() - start
        blob.path.unlink()
        check_digest("put_file", blob.digest.sha256, expected)
        return elapsed

    return trial


def _copy_hashing(prepare: Callable[[], None], source: Path, destination: Path, expected: str) -> Trial:
    def trial() -> float:
        prepare()
        start = time.perf_counter()
        digest = copy_hashing(source, destination)
        elapsed = time.perf_counter() - start
        destination.unlink()
        check_digest("copy_hashing", digest.sha256, expected)
        return elapsed

    return trial


def _baseline_hash(source: Path, expected: str) -> Trial:
    def trial() -> float:
        settle(source)
        digest: list[str] = []
        elapsed = timed(lambda: digest.append(openssl_sha256(source)))
        check_digest("openssl dgst", digest[0], expected)
        return elapsed

    return trial


def _sha256_file(source: Path, expected: str) -> Trial:
    def trial() -> float:
        settle(source)
        digest: list[str] = []
        elapsed = timed(lambda: digest.append(sha256_file(source).sha256))
        check_digest("sha256_file", digest[0], expected)
        return elapsed

    return trial
