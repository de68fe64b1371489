"""``python -m bench``: run the benchmarks, print the figures (table or ``--json``) on stdout."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench.custody import custody_figures
from bench.files import make_file, workspace
from bench.hashing import copy_figures, hash_figures
from bench.hj212 import hj212_figures
from bench.ledger import ledger_figures
from bench.machine import describe, load_average
from bench.media import media_figures
from bench.memory import memory_figure
from bench.merkle import merkle_figure
from bench.mqtt import mqtt_figures
from bench.options import Plan, parse_plan
from bench.progress import note
from bench.report import Figure, render_json, render_text, size_text
from bench.sync import sync_figures
from bench.uploads import upload_figures
from evidence.hashing import sha256_file

RATIO_LEGEND = (
    "ratio: a, b, d, f2, g, h1, i, l1 = our speed over the baseline's (higher is better); e, l2 = proof time at "
    "the large log over the time at the small one (lower is better); s = sync time over openssl dgst time (lower "
    "is better); f1 = 115200-baud serial monitors one core decodes for (40 frames/s each); best of the rounds, "
    "median in brackets; SKIP = not measured (reason given)"
)


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_plan(argv)
    load_at_start = load_average()
    note(f"load average {load_at_start} (other work on this machine skews the figures)")
    signal.signal(signal.SIGTERM, _interrupt)  # so that a kill also removes the temporary files
    try:
        figures = run(plan)
    except KeyboardInterrupt:
        note("interrupted; temporary files removed")
        return 130
    machine, parameters = describe(plan.workdir), plan.parameters()
    machine["load average"] = f"{load_at_start} at start, {machine['load average']} at end"
    if plan.as_json:
        print(render_json(figures, machine, parameters))
    else:
        print(render_text(figures, machine, {**parameters, "note": RATIO_LEGEND}))
    return 0


def run(plan: Plan) -> list[Figure]:
    figures: list[Figure] = []
    if set("abc") & set(plan.figures):
        figures += _file_figures(plan)
    if "d" in plan.figures:
        figures += custody_figures(plan.events, plan.custody_rounds)
    if "e" in plan.figures:
        figures.append(merkle_figure(plan.leaves, plan.proofs, plan.rounds))
    if "f" in plan.figures:
        figures += hj212_figures(plan.rounds, frames=plan.frames)
    if "g" in plan.figures:
        figures += mqtt_figures(plan.broker, plan.messages, max(plan.rounds, 3), plan.workdir)
    if "h" in plan.figures:
        figures += media_figures(plan.size, plan.workdir, plan.rounds, recycle=plan.recycle)
    if "i" in plan.figures:
        figures += upload_figures(plan.size, plan.workdir, plan.rounds, recycle=plan.recycle)
    if "l" in plan.figures:
        figures += ledger_figures(
            workdir=plan.workdir,
            rounds=min(plan.rounds, 3),
            append_events=plan.ledger_events,
            leaves=plan.leaves,
            postgres_url=plan.postgres,
        )
    if "s" in plan.figures:
        figures += sync_figures(plan.sync_size, plan.workdir, plan.sync_rounds, recycle=plan.recycle)
    return figures


def _file_figures(plan: Plan) -> list[Figure]:
    figures: list[Figure] = []
    with workspace(plan.workdir) as work:
        source = work / f"source-{size_text(plan.size).replace(' ', '')}.bin"
        make_file(source, plan.size)
        expected = _reference_digest(source)
        if "a" in plan.figures:
            figures += copy_figures(source, work, expected, plan.rounds, recycle=plan.recycle)
        if "b" in plan.figures:
            figures += hash_figures(source, expected, plan.rounds)
        if "c" in plan.figures:
            figures.append(memory_figure(source, work, expected))
    return figures


def _reference_digest(source: Path) -> str:
    """The source's SHA-256, which every variant's result is checked against (this also warms the cache)."""
    digest = sha256_file(source).sha256
    note(f"source SHA-256 {digest}")
    return digest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
