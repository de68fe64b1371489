"""Sending an item's bytes by tus 1.0, resumable at chunk level, also across restarts of the gateway.

1. An item without an upload gets one (``POST /uploads`` with its length and declared SHA-256); the upload's URL
   is stored in the spool before the first byte is sent, and sending starts at offset 0.
2. An upload begun before (an error, a restart, another gateway process's attempt) asks ``HEAD`` for the offset
   the server holds; an upload the server no longer has (404, 410) is started again.
3. Chunks (64 MiB by default) are streamed from the spool's blob, 1 MiB at a time, by ``PATCH`` at that offset;
   each offset the server confirms is stored. The server keeps (and fsyncs) what arrived of a PATCH cut short, so a
   large chunk loses nothing on a bad link. A failed PATCH is followed by a HEAD, so nothing is sent twice and
   nothing skipped.
4. The last chunk makes the server hash the whole file: its ``Upload-Sha256`` must be the item's SHA-256.

Several items upload at once (see ``engine``): each worker has its own ``Uploader`` (and spool connection); they
share one ``SentBytes``, which counts the run's bytes, feeds the progress bar and stops every worker at a limit or
when the run stops.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from device_gateway.errors import ServerRefusedError, ServerUnavailableError, SpoolError, SyncError
from device_gateway.spool import Spool
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient, describe
from device_gateway.sync.state import SyncItem

CHUNK_SIZE = 64 * 1024 * 1024
READ_SIZE = 1024 * 1024  # a PATCH body is streamed from the file in pieces of this size
UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
_GONE = (404, 410)


class UploadStopped(SyncError):
    """The upload stopped at a byte limit the caller set (it resumes on the next sync)."""


@dataclass(frozen=True)
class UploadLimits:
    chunk_size: int = CHUNK_SIZE
    stop_after_bytes: int | None = None  # stop (resumably) once this many bytes were sent in this run


class SentBytes:
    """The bytes this run sent, over all workers (thread-safe); a stop that every worker sees before its next chunk."""

    def __init__(self, limits: UploadLimits, progress: Callable[[int], None]) -> None:
        self.limits, self.progress = limits, progress
        self.count = 0
        self.stopped: str | None = None
        self._lock = threading.Lock()

    def add(self, count: int, *, sent: bool = True) -> None:
        """``count`` more bytes on the server (``sent=False``: found there, for the progress bar only)."""
        with self._lock:
            self.count += count if sent else 0
            self.progress(count)

    def stop(self, reason: str) -> None:
        self.stopped = self.stopped or reason

    def check(self, item: SyncItem) -> None:
        """Raise ``UploadStopped`` when the run stopped or reached its byte limit."""
        limit = self.limits.stop_after_bytes
        if limit is not None and self.count >= limit:
            self.stop(f"stopped after {self.count} bytes, during {item.name} (resumes on the next sync)")
        if self.stopped is not None:
            raise UploadStopped(self.stopped)


class Uploader:
    """Uploads items to one server through one spool connection (one per worker thread)."""

    def __init__(self, client: ServerClient, spool: Spool, *, sent: SentBytes) -> None:
        self.client, self.spool, self.sent = client, spool, sent
        self.chunk_size = sent.limits.chunk_size

    def upload(self, item: SyncItem) -> str:
        """The id of a completed upload holding the item's bytes (resuming or starting one)."""
        known = state.upload_state(self.spool.connection, item.item_id)
        if known.upload_id is not None:
            return known.upload_id
        url, offset = known.url, None
        if url is not None:
            offset = self._server_offset(url, item)
            self.sent.add(offset - known.offset if offset is not None and offset > known.offset else 0, sent=False)
        if url is None or offset is None:  # never started, or gone from the server: a new upload, from byte 0
            url, offset = self._create(item), 0
        return self._send_from(url, offset, item)

    def _create(self, item: SyncItem) -> str:
        metadata = f"sha256 {_b64(item.sha256)},filename {_b64(item.name)}"
        headers = {**TUS, "Upload-Length": str(item.size), "Upload-Metadata": metadata}
        created = self.client.expect("POST", UPLOADS, (201,), headers=headers)
        url = created.headers["Location"]
        state.save_progress(self.spool, item.item_id, upload_url=url, upload_offset=0, upload_id=None)
        return url

    def _server_offset(self, url: str, item: SyncItem) -> int | None:
        """What the server holds of this upload; None when it has it no more."""
        answer = self.client.request("HEAD", url, headers=TUS)
        if answer.status_code in _GONE:
            return None
        if answer.status_code != 200:
            raise ServerRefusedError(f"HEAD {url}: {describe(answer)}", status=answer.status_code)
        if "Upload-Sha256" in answer.headers:
            self._check_hash(answer, item)
        return int(answer.headers["Upload-Offset"])

    def _send_from(self, url: str, offset: int, item: SyncItem) -> str:
        path = self.spool.blobs.path_for(item.sha256)
        while offset < item.size:
            self.sent.check(item)
            offset = self._patch(url, offset, FileSlice(path, offset, min(self.chunk_size, item.size - offset)), item)
        if offset > item.size:
            raise ServerRefusedError(
                f"the server claims {offset} bytes of {item.name}, which has {item.size}", status=0
            )
        upload_id = url.rstrip("/").rsplit("/", 1)[1]
        state.save_progress(self.spool, item.item_id, upload_offset=item.size, upload_id=upload_id)
        return upload_id

    def _patch(self, url: str, offset: int, chunk: FileSlice, item: SyncItem) -> int:
        """Send one chunk; return the offset the server holds afterwards (asking it after any failure)."""
        headers = {
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(chunk.length),
        }
        try:
            answer = self.client.request("PATCH", url, content=chunk, headers=headers)
        except ServerUnavailableError:
            return self._offset_or_raise(url, item)
        if answer.status_code == 409:  # the server holds another offset: continue from there
            return int(answer.headers.get("Upload-Offset") or self._offset_or_raise(url, item))
        return self._accepted(answer, url, offset, item)

    def _accepted(self, answer: httpx.Response, url: str, offset: int, item: SyncItem) -> int:
        if answer.status_code in _GONE:
            raise ServerRefusedError(f"upload of {item.name} is gone on the server: {describe(answer)}", status=410)
        if answer.status_code != 204:
            raise ServerRefusedError(f"PATCH {url}: {describe(answer)}", status=answer.status_code)
        if "Upload-Sha256" in answer.headers:
            self._check_hash(answer, item)
        new_offset = int(answer.headers["Upload-Offset"])
        self.sent.add(new_offset - offset)
        state.save_progress(self.spool, item.item_id, upload_offset=new_offset)
        return new_offset

    def _offset_or_raise(self, url: str, item: SyncItem) -> int:
        offset = self._server_offset(url, item)
        if offset is None:
            raise ServerRefusedError(f"upload of {item.name} is gone on the server", status=410)
        return offset

    @staticmethod
    def _check_hash(answer: httpx.Response, item: SyncItem) -> None:
        if answer.headers["Upload-Sha256"] != item.sha256:
            raise ServerRefusedError(
                f"the server hashed {item.name} as {answer.headers['Upload-Sha256']}, not {item.sha256}", status=460
            )


class FileSlice:
    """``length`` bytes of a file from ``offset``, read piecewise when sent; iterable again for a retried request."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self.path, self.offset, self.length = path, offset, length

    def __iter__(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                yield from _pieces(file, self.length, self.path)
        except OSError as exc:
            raise SpoolError(f"cannot read the spool's blob {self.path}: {exc}") from exc


def _pieces(file: BinaryIO, length: int, path: Path) -> Iterator[bytes]:
    left = length
    while left > 0:
        piece = file.read(min(READ_SIZE, left))
        if not piece:
            raise SpoolError(f"the spool's blob {path} ended {left} bytes early: it is damaged")
        left -= len(piece)
        yield piece


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
