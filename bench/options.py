"""Command-line options of ``python -m bench`` and the run plan they make."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.files import OUT
from bench.ledger import POSTGRES_URL
from bench.sync import DEFAULT_ROUNDS as SYNC_ROUNDS
from bench.sync import DEFAULT_SIZE as SYNC_SIZE
from bench.sync import QUICK_SIZE as SYNC_QUICK_SIZE

_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
_SIZE = re.compile(r"\s*(\d+)\s*([a-z]*)\s*")
FIGURES = "abcdefghils"
DEFAULT_BROKER = ("127.0.0.1", 1883)


@dataclass(frozen=True)
class Plan:
    size: int
    events: int
    leaves: int
    proofs: int
    rounds: int
    custody_rounds: int
    figures: str
    recycle: bool
    workdir: Path
    as_json: bool
    frames: int = 20_000
    messages: int = 20_000
    broker: tuple[str, int] = DEFAULT_BROKER
    ledger_events: int = 5_000
    postgres: str = POSTGRES_URL
    sync_size: int = SYNC_SIZE
    sync_rounds: int = SYNC_ROUNDS

    def parameters(self) -> dict[str, Any]:
        return {
            "file bytes": self.size,
            "custody events": self.events,
            "merkle leaves": self.leaves,
            "proofs per round": self.proofs,
            "rounds": self.rounds,
            "custody rounds": self.custody_rounds,
            "figures": self.figures,
            "recycle memory before copies": self.recycle,
            "HJ 212 frames": self.frames,
            "MQTT messages": self.messages,
            "MQTT broker": f"{self.broker[0]}:{self.broker[1]}",
            "ledger events per round": self.ledger_events,
            "PostgreSQL": self.postgres,
            "sync media bytes": self.sync_size,
            "sync rounds": self.sync_rounds,
        }


def parse_size(text: str) -> int:
    """``1GiB``, ``64M``, ``512k`` or plain bytes; units are binary (K = 1024)."""
    match = _SIZE.fullmatch(text.lower())
    if not match or match.group(2) not in _UNITS or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1GiB, 64MiB or a number of bytes)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_plan(argv: Sequence[str] | None) -> Plan:
    options = _parser().parse_args(argv)
    quick = options.quick
    return Plan(
        size=options.size or (64 * 1024**2 if quick else 1024**3),
        events=options.events or (10_000 if quick else 100_000),
        leaves=options.leaves or (100_000 if quick else 1_000_000),
        proofs=options.proofs,
        rounds=options.rounds or (3 if quick else 7),
        custody_rounds=2 if quick else 3,
        figures="".join(sorted(set(options.only))),
        recycle=not options.no_recycle,
        workdir=options.workdir,
        as_json=options.json,
        frames=options.frames or (5_000 if quick else 20_000),
        messages=options.messages or (3_000 if quick else 20_000),
        broker=options.mqtt,
        ledger_events=options.ledger_events or (1_000 if quick else 5_000),
        postgres=options.postgres,
        sync_size=options.sync_size or (SYNC_QUICK_SIZE if quick else SYNC_SIZE),
        sync_rounds=options.sync_rounds or SYNC_ROUNDS,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the evidence kernel and the gateway against baselines measured in the same run.",
    )
    parser.add_argument(
        "--size",
        type=parse_size,
        help="test file size for a, b, c, media card size for h, upload size for i (default 1GiB)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a smoke run (64MiB, 10k events, 100k leaves, 5k frames, 3k messages, 1k ledger events, "
        "256MiB synced)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--events", type=int, help="custody events for d (default 100000)")
    parser.add_argument("--leaves", type=int, help="leaves of the large Merkle log for e and l (default 1000000)")
    parser.add_argument("--proofs", type=int, default=50_000, help="inclusion proofs per round for e (default 50000)")
    parser.add_argument("--frames", type=_positive, help="HJ 212 frames for f (default 20000)")
    parser.add_argument("--messages", type=_positive, help="MQTT messages per round for g (default 20000)")
    parser.add_argument(
        "--mqtt",
        type=parse_broker,
        default=DEFAULT_BROKER,
        metavar="HOST:PORT",
        help="MQTT broker for g (default 127.0.0.1:1883)",
    )
    parser.add_argument(
        "--ledger-events", type=_positive, help="custody events appended per round and database for l (default 5000)"
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES_URL,
        metavar="URL",
        help=f"PostgreSQL server for l, which creates and drops its own databases there (default {POSTGRES_URL})",
    )
    parser.add_argument(
        "--sync-size",
        type=parse_size,
        help="media synced to the local server for s (default 2GiB; 256MiB with --quick)",
    )
    parser.add_argument(
        "--sync-rounds", type=_positive, help=f"rounds of each variant of s (default {SYNC_ROUNDS}, --rounds aside)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="repetitions of each variant of a, b, e, f, g, h, i (default 7; 3 with --quick); l runs at most 3",
    )
    parser.add_argument("--only", default=FIGURES, type=_figures, help=f"figures to run (default {FIGURES})")
    parser.add_argument(
        "--no-recycle",
        action="store_true",
        help="for a, h and i: do not write and delete a scratch file before each run",
    )
    parser.add_argument("--workdir", type=Path, default=OUT, help=f"scratch space parent (default {OUT})")
    return parser


def _figures(text: str) -> str:
    if not text or set(text) - set(FIGURES):
        raise argparse.ArgumentTypeError(f"choose among {FIGURES!r}, e.g. 'ab'")
    return text


def parse_broker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``HOST`` alone: port 1883; ``[::1]:1883`` for IPv6)."""
    host, _, port = text.rpartition(":") if ":" in text.lstrip("[").split("]")[-1] else (text, ":", "1883")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"not a broker address: {text!r} (try 127.0.0.1:1883)")
    return host, int(port)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return int(text)
