"""Progress notes on stderr, stamped with the seconds since the run began (stdout carries only results)."""

from __future__ import annotations

import sys
import time

_START = time.perf_counter()


def note(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)
