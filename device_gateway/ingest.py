"""The single writer between every source and the spool.

Sources (serial ports, TCP loggers, MQTT, Modbus) run in their own threads and submit FrameRecords here. One
writer thread takes whatever is waiting (up to ``max_batch``), stores it in one transaction, and only then runs
each frame's ``after_commit`` callback: that is where an MQTT message is acknowledged or an HJ 212 data logger is
answered, so nothing is confirmed to a device or broker before it is on disk. The queue is bounded: when the
disk cannot keep up, sources block instead of memory growing.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from device_gateway.errors import SpoolError
from device_gateway.spool import FrameRecord, Spool, StoredFrame
from device_gateway.spool.records import Warn

log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]


@dataclass(frozen=True)
class _Job:
    record: FrameRecord
    after_commit: AfterCommit | None


_STOP = object()


class Ingestor:
    def __init__(
        self,
        spool: Spool,
        *,
        on_stored: Callable[[StoredFrame], None] | None = None,
        warn: Warn | None = None,
        max_batch: int = 1000,
        max_waiting: int = 20_000,
    ) -> None:
        self.spool = spool
        self.on_stored = on_stored
        self.warn = warn
        self.max_batch = max_batch
        self._closed = False
        self.failure: BaseException | None = None
        self._queue: queue.Queue[_Job | object] = queue.Queue(maxsize=max_waiting)
        self._thread = threading.Thread(target=self._run, name="spool-writer", daemon=True)

    def start(self) -> Ingestor:
        self._thread.start()
        return self

    def submit(self, record: FrameRecord, after_commit: AfterCommit | None = None) -> None:
        """Queue a frame for storage; ``after_commit`` runs once it is durably stored."""
        if self.failure is not None:
            raise SpoolError(f"the spool stopped accepting frames: {self.failure}")
        if self._closed:
            return  # too late to store: not acknowledged either, so the device or broker sends it again
        self._queue.put(_Job(record, after_commit))

    def close(self) -> None:
        """Store everything already submitted, then stop the writer thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            jobs, stopping = self._take_batch()
            if jobs and not self._store(jobs):
                return

    def _take_batch(self) -> tuple[list[_Job], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        jobs = [first]
        while len(jobs) < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:
                return _only_jobs(jobs), True
            jobs.append(job)
        return _only_jobs(jobs), False

    def _store(self, jobs: list[_Job]) -> bool:
        try:
            stored = self.spool.store_frames([job.record for job in jobs], self.warn)
        except SpoolError as exc:
            log.error("spool write failed; nothing in this batch was acknowledged: %s", exc)
            self.failure = exc
            return False
        for job in jobs:
            if job.after_commit is not None:
                _quietly(job.after_commit)
        if self.on_stored is not None:
            for outcome in stored:
                _quietly(functools.partial(self.on_stored, outcome))
        return True


def _only_jobs(items: list[object]) -> list[_Job]:
    return [item for item in items if isinstance(item, _Job)]


def _quietly(callback: Callable[[], None]) -> None:
    # A failing acknowledgement or display must not stop storage: the frame is already safe on disk.
    try:
        callback()
    except Exception:
        log.exception("callback after commit failed")
