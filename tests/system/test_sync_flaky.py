"""Sync over a flaky network: a proxy between the gateway and the server drops connections (before a request
reaches the server, in the middle of an upload's bytes, after the server answered but before the gateway heard it)
and stalls some, at seeded random. ``fieldproof gateway sync``, run again as long as it reports something left
(a few runs at most), ends with every item on the server exactly once, whole and verified, and receipts that verify.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from tests.system.tcp_proxy import DROP, Hooks, Proxy, Request
from tests.system.test_sync_crash import MiB, check_everything_once_and_verified, make_world, run_sync

SEED = 20260513
RUNS = 6
DROP_REQUEST, DROP_ANSWER, CUT_BODY, CUT_LARGE_BODY, STALL = 0.05, 0.05, 0.08, 0.6, 0.04


class Chaos(Hooks):
    """Per request, at seeded random: drop it, cut its body, stall it, or drop or stall its answer."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lock = threading.Lock()
        self.drops = self.stalls = self.cuts = 0
        self.doomed: set[int] = set()  # requests whose answer is dropped

    def _roll(self) -> float:
        with self.lock:
            return self.rng.random()

    def _stall(self) -> None:
        with self.lock:
            self.stalls += 1
            pause = self.rng.uniform(0.1, 1.0)
        time.sleep(pause)  # shorter than the client's timeouts: the connection goes on afterwards

    def request(self, request: Request) -> str | None:
        if self._roll() < DROP_REQUEST:
            self.drops += 1
            return DROP
        if request.length >= 512 and self._roll() < (CUT_LARGE_BODY if request.length >= MiB else CUT_BODY):
            with self.lock:
                request.cut_at = int(self.rng.uniform(0.05, 0.95) * request.length)
        elif self._roll() < STALL:
            self._stall()
        if self._roll() < DROP_ANSWER:
            self.doomed.add(request.number)
        return None

    def body(self, request: Request) -> str | None:
        if request.cut_at is not None and request.sent >= request.cut_at:
            self.cuts += 1
            return DROP
        return None

    def answer(self, request: Request | None, size: int) -> str | None:
        if request is None or request.answered:
            return None
        if request.number in self.doomed:
            self.drops += 1
            return DROP
        if self._roll() < STALL:
            self._stall()
        return None


def test_a_sync_through_a_flaky_network_ends_with_everything_exactly_once(tmp_path: Path) -> None:
    chaos = Chaos(random.Random(SEED))
    with Proxy(0) as proxy:
        world = make_world(tmp_path, None, proxy, photos=60, large=(9 * MiB, 3 * MiB))
        try:
            proxy.hooks = chaos
            outcomes = []
            for run in range(RUNS):
                status, answer = run_sync(world, tmp_path / f"sync-{run}.log")
                outcomes.append((status, None if answer is None else answer.get("stopped")))
                if status == 0:
                    break
            assert outcomes[-1][0] == 0, f"still not synced after {RUNS} runs: {outcomes}"
            assert chaos.drops >= 5, f"the network was not flaky enough: {chaos.drops} drops"
            assert chaos.stalls >= 3, f"the network was not flaky enough: {chaos.stalls} stalls"
            assert chaos.cuts >= 1, "no upload was cut in the middle of its bytes"
            proxy.hooks = Hooks()
            check_everything_once_and_verified(world, at_least=60)
        finally:
            world.server.stop()
