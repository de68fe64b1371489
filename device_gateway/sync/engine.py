"""``sync``: every item the server has not yet received, then the readings of every synced sensor batch.

Per item (several at once, started in order: originals before their derivatives): file it under a case (its own
filing, its visit's, or ``case_id``); upload its bytes (``upload``); register it with its custody events
(``register``); check the receipt and the checkpoint's consistency with every one seen before (``receipts``); store
both. An item the server refuses (a 4xx) is marked failed with the reason and the sync goes on with the next; a
server that cannot be reached after retries, or whose answers do not verify, stops the sync. Each step is recorded
before the next starts, so a sync killed anywhere resumes where it stopped and creates nothing twice.

Items are in flight together because one item at a time leaves the link idle during every round trip (creation,
registration, receipt): with small photos that was half of a sync's time.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from device_gateway.errors import (
    NotEnrolledError,
    ServerRefusedError,
    ServerUnavailableError,
    SpoolError,
    UntrustedServerError,
)
from device_gateway.spool import Spool
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient
from device_gateway.sync.enroll import server_log_key
from device_gateway.sync.readings import ReadingsSent, push_readings
from device_gateway.sync.receipts import check_consistency, check_receipt
from device_gateway.sync.register import register, registration
from device_gateway.sync.state import SyncItem
from device_gateway.sync.upload import SentBytes, Uploader, UploadLimits, UploadStopped
from evidence.keys import PublicKey

PARALLEL = 4
# Errors after which nothing else would pass either: the sync stops (a refused item only fails itself).
STOPPING = (ServerUnavailableError, UntrustedServerError, UploadStopped, ServerRefusedError, SpoolError)


class Progress(Protocol):
    def bytes(self, count: int) -> None: ...

    def file(self) -> None: ...


class _Silent:
    def bytes(self, count: int) -> None:
        pass

    def file(self) -> None:
        pass


@dataclass(frozen=True)
class SyncOptions:
    case_id: int | None = None  # files items that have no case yet under this case (--case)
    limits: UploadLimits = field(default_factory=UploadLimits)
    parallel: int = PARALLEL  # items in flight at once (--parallel)


@dataclass(frozen=True)
class ItemOutcome:
    item_id: str
    name: str
    status: str  # synced, failed, pending (not reached: the sync stopped, or no case)
    log_index: int | None = None
    reason: str | None = None


@dataclass
class SyncSummary:
    server: str
    items: list[ItemOutcome] = field(default_factory=list)
    bytes_sent: int = 0
    readings: ReadingsSent = field(default_factory=ReadingsSent)
    checkpoint_size: int | None = None
    stopped: str | None = None  # why the sync stopped before the end

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(item.status == "synced" for item in self.items)

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "ok": self.ok,
            "synced": self.count("synced"),
            "failed": self.count("failed"),
            "pending": self.count("pending"),
            "bytes_sent": self.bytes_sent,
            "readings": asdict(self.readings),
            "checkpoint_size": self.checkpoint_size,
            "stopped": self.stopped,
            "items": [asdict(item) for item in self.items],
        }


def remaining(spool: Spool) -> tuple[list[SyncItem], int]:
    """The items still to sync and the bytes still to send (for a progress bar)."""
    items = state.items_to_sync(spool.connection)
    left = sum(item.size - state.upload_state(spool.connection, item.item_id).offset for item in items)
    return items, left


def sync(
    spool: Spool, client: ServerClient, *, options: SyncOptions | None = None, progress: Progress | None = None
) -> SyncSummary:
    """Sync the spool with the server behind ``client`` (see the module docstring)."""
    if state.enrollment(spool.connection, client.server) is None:
        raise NotEnrolledError(f"this gateway is not enrolled with {client.server}: run 'fieldproof gateway enroll'")
    run = _Run(spool, client, options or SyncOptions(), progress or _Silent())
    return run.all()


class _Run:
    """One sync: ``options.parallel`` items in flight at once, each in a worker thread with its own spool connection.

    Uploads overlap freely; a derivative registers only after its original's turn ended (the server links the two),
    and receipts are checked and stored one at a time, so each new checkpoint is proved against every one kept.
    The first error that stops the sync stops every worker before its next chunk or item.
    """

    def __init__(self, spool: Spool, client: ServerClient, options: SyncOptions, progress: Progress) -> None:
        self.spool, self.client, self.options = spool, client, options
        self.progress = _Serialized(progress)
        self.summary = SyncSummary(client.server)
        self.sent = SentBytes(options.limits, self.progress.bytes)
        self.receipts = threading.Lock()  # one receipt checked and stored at a time
        self.turns: dict[str, threading.Event] = {}  # set once an item's turn ended, whatever its outcome
        self.local = threading.local()
        self.spools: list[Spool] = []

    def all(self) -> SyncSummary:
        items = state.items_to_sync(self.spool.connection)
        self.turns = {item.item_id: threading.Event() for item in items}
        try:
            key = server_log_key(self.spool, self.client)
            self.summary.items = [o for o in self._in_workers(items, key) if o is not None]
            if self.sent.stopped is None:
                self._readings()
        except STOPPING as exc:
            self.sent.stop(str(exc))
        finally:
            for spool in self.spools:
                spool.close()
        self.summary.stopped = self.sent.stopped
        done = {outcome.item_id for outcome in self.summary.items}
        self.summary.items += [ItemOutcome(i.item_id, i.name, "pending") for i in items if i.item_id not in done]
        self.summary.bytes_sent = self.sent.count
        return self.summary

    def _in_workers(self, items: list[SyncItem], key: PublicKey) -> list[ItemOutcome | None]:
        """Every item's outcome, in order; None for those not reached (the sync stopped)."""
        if not items:
            return []
        workers = max(1, min(self.options.parallel, len(items)))
        with ThreadPoolExecutor(workers, thread_name_prefix="sync") as pool:  # FIFO: originals start first
            return list(pool.map(lambda item: self._turn(item, key), items))

    def _turn(self, item: SyncItem, key: PublicKey) -> ItemOutcome | None:
        try:
            if self.sent.stopped is not None:
                return None
            outcome = self._one(self._worker_spool(), item, key)
            self.progress.file()
            return outcome
        except STOPPING as exc:
            self.sent.stop(str(exc))
            return None
        finally:
            self.turns[item.item_id].set()

    def _worker_spool(self) -> Spool:
        spool: Spool | None = getattr(self.local, "spool", None)
        if spool is None:
            spool = self.local.spool = Spool(self.spool.root)
            with self.receipts:
                self.spools.append(spool)
        return spool

    def _one(self, spool: Spool, item: SyncItem, key: PublicKey) -> ItemOutcome:
        case_id = self._case_of(spool, item)
        if case_id is None:
            return ItemOutcome(item.item_id, item.name, "pending", reason="no case: give --case ID")
        try:
            log_index = self._upload_and_register(spool, item, case_id, key)
        except ServerRefusedError as exc:
            if exc.status in (401, 403):  # the token or the device is refused: nothing else would pass either
                raise
            state.save_progress(spool, item.item_id, error=str(exc), **_restart_if_gone(exc))
            return ItemOutcome(item.item_id, item.name, "failed", reason=str(exc))
        return ItemOutcome(item.item_id, item.name, "synced", log_index=log_index)

    def _case_of(self, spool: Spool, item: SyncItem) -> int | None:
        case_id = state.case_of(spool.connection, item)
        if case_id is None and self.options.case_id is not None:
            state.file_item(spool, item, self.options.case_id)
            case_id = self.options.case_id
        return case_id

    def _upload_and_register(self, spool: Spool, item: SyncItem, case_id: int, key: PublicKey) -> int:
        upload_id = Uploader(self.client, spool, sent=self.sent).upload(item)
        if item.derived_from in self.turns:
            self.turns[item.derived_from].wait()
        events = state.events_of(spool.connection, item.item_id)
        answer = register(self.client, registration(item, case_id=case_id, upload_id=upload_id, events=events))
        checked = check_receipt(answer["receipt"], key=key, events=events)
        with self.receipts:
            check_consistency(self.client, spool, checked.checkpoint)
            state.store_receipt(
                spool,
                item_id=item.item_id,
                server=self.client.server,
                received=checked.received,
                receipt=answer["receipt"],
                seen=checked.checkpoint,
            )
            self.summary.checkpoint_size = max(self.summary.checkpoint_size or 0, checked.checkpoint.size)
        return checked.log_index

    def _readings(self) -> None:
        for item_id, through in state.synced_batches(self.spool.connection):
            push_readings(self.client, self.spool, item_id, after=through, sent=self.summary.readings)


class _Serialized:
    """A progress bar fed from several worker threads."""

    def __init__(self, progress: Progress) -> None:
        self._progress, self._lock = progress, threading.Lock()

    def bytes(self, count: int) -> None:
        with self._lock:
            self._progress.bytes(count)

    def file(self) -> None:
        with self._lock:
            self._progress.file()


def _restart_if_gone(exc: ServerRefusedError) -> dict[str, Any]:
    """After a failed or vanished upload, the next sync starts a new one."""
    if exc.status in (404, 410, 460):
        return {"upload_url": None, "upload_offset": 0, "upload_id": None}
    return {}
