"""``sync``: every item the server has not yet received, then the readings of every synced sensor batch.

Per item, in order (originals before their derivatives): file it under a case (its own filing, its visit's, or
``case_id``); upload its bytes (``upload``); register it with its custody events (``register``); check the receipt
and the checkpoint's consistency with every one seen before (``receipts``); store both. An item the server refuses
(a 4xx) is marked failed with the reason and the sync goes on with the next; a server that cannot be reached after
retries, or whose answers do not verify, stops the sync. Each step is recorded before the next starts, so a sync
killed anywhere resumes where it stopped and creates nothing twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from device_gateway.errors import NotEnrolledError, ServerRefusedError, ServerUnavailableError, UntrustedServerError
from device_gateway.spool import Spool
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient
from device_gateway.sync.enroll import server_log_key
from device_gateway.sync.readings import ReadingsSent, push_readings
from device_gateway.sync.receipts import check_consistency, check_receipt
from device_gateway.sync.register import register, registration
from device_gateway.sync.state import SyncItem
from device_gateway.sync.upload import Uploader, UploadLimits, UploadStopped
from evidence.keys import PublicKey


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
    def __init__(self, spool: Spool, client: ServerClient, options: SyncOptions, progress: Progress) -> None:
        self.spool, self.client, self.options, self.progress = spool, client, options, progress
        self.summary = SyncSummary(client.server)
        self.uploader = Uploader(client, spool, limits=options.limits, progress=progress.bytes)

    def all(self) -> SyncSummary:
        items = state.items_to_sync(self.spool.connection)
        try:
            key = server_log_key(self.spool, self.client)
            for item in items:
                self.summary.items.append(self._one(item, key))
                self.progress.file()
            self._readings()
        except (ServerUnavailableError, UntrustedServerError, UploadStopped, ServerRefusedError) as exc:
            self.summary.stopped = str(exc)
        done = {outcome.item_id for outcome in self.summary.items}
        self.summary.items += [ItemOutcome(i.item_id, i.name, "pending") for i in items if i.item_id not in done]
        self.summary.bytes_sent = self.uploader.sent
        return self.summary

    def _one(self, item: SyncItem, key: PublicKey) -> ItemOutcome:
        case_id = self._case_of(item)
        if case_id is None:
            return ItemOutcome(item.item_id, item.name, "pending", reason="no case: give --case ID")
        try:
            log_index = self._upload_and_register(item, case_id, key)
        except ServerRefusedError as exc:
            if exc.status in (401, 403):  # the token or the device is refused: nothing else would pass either
                raise
            state.save_progress(self.spool, item.item_id, error=str(exc), **_restart_if_gone(exc))
            return ItemOutcome(item.item_id, item.name, "failed", reason=str(exc))
        return ItemOutcome(item.item_id, item.name, "synced", log_index=log_index)

    def _case_of(self, item: SyncItem) -> int | None:
        case_id = state.case_of(self.spool.connection, item)
        if case_id is None and self.options.case_id is not None:
            state.file_item(self.spool, item, self.options.case_id)
            case_id = self.options.case_id
        return case_id

    def _upload_and_register(self, item: SyncItem, case_id: int, key: PublicKey) -> int:
        upload_id = self.uploader.upload(item)
        events = state.events_of(self.spool.connection, item.item_id)
        answer = register(self.client, registration(item, case_id=case_id, upload_id=upload_id, events=events))
        checked = check_receipt(answer["receipt"], key=key, events=events)
        check_consistency(self.client, self.spool, checked.checkpoint)
        receipt = answer["receipt"]
        state.store_receipt(
            self.spool,
            item_id=item.item_id,
            server=self.client.server,
            received=checked.received,
            receipt=receipt,
            seen=checked.checkpoint,
        )
        self.summary.checkpoint_size = max(self.summary.checkpoint_size or 0, checked.checkpoint.size)
        return checked.log_index

    def _readings(self) -> None:
        for item_id, through in state.synced_batches(self.spool.connection):
            push_readings(self.client, self.spool, item_id, after=through, sent=self.summary.readings)


def _restart_if_gone(exc: ServerRefusedError) -> dict[str, Any]:
    """After a failed or vanished upload, the next sync starts a new one."""
    if exc.status in (404, 410, 460):
        return {"upload_url": None, "upload_offset": 0, "upload_id": None}
    return {}
