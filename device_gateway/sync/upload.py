"""Sending an item's bytes by tus 1.0, resumable at chunk level, also across restarts of the gateway.

1. An item without an upload gets one (``POST /uploads`` with its length and declared SHA-256); the upload's URL
   is stored in the spool before the first byte is sent.
2. ``HEAD`` tells the offset the server holds (after an error, a restart, or another gateway process's attempt);
   an upload the server no longer has (404, 410) is started again.
3. Chunks (8 MiB by default) are read from the spool's blob and sent by ``PATCH`` at that offset; each offset the
   server confirms is stored. A failed PATCH is followed by a HEAD, so nothing is sent twice and nothing skipped.
4. The last chunk makes the server hash the whole file: its ``Upload-Sha256`` must be the item's SHA-256.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from device_gateway.errors import ServerRefusedError, ServerUnavailableError, SyncError
from device_gateway.spool import Spool
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient, describe
from device_gateway.sync.state import SyncItem

CHUNK_SIZE = 8 * 1024 * 1024
UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
_GONE = (404, 410)


class UploadStopped(SyncError):
    """The upload stopped at a byte limit the caller set (it resumes on the next sync)."""


@dataclass(frozen=True)
class UploadLimits:
    chunk_size: int = CHUNK_SIZE
    stop_after_bytes: int | None = None  # stop (resumably) once this many bytes were sent in this run


class Uploader:
    """Uploads items to one server; counts the bytes sent in this run."""

    def __init__(
        self, client: ServerClient, spool: Spool, *, limits: UploadLimits, progress: Callable[[int], None]
    ) -> None:
        self.client, self.spool, self.limits, self.progress = client, spool, limits, progress
        self.sent = 0

    def upload(self, item: SyncItem) -> str:
        """The id of a completed upload holding the item's bytes (resuming or starting one)."""
        known = state.upload_state(self.spool.connection, item.item_id)
        if known.upload_id is not None:
            return known.upload_id
        url = known.url or self._create(item)
        offset = self._server_offset(url, item)
        if offset is None:
            url, offset = self._create(item), 0
        self.progress(offset - known.offset if offset > known.offset else 0)
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
        with self.spool.blobs.open(item.sha256) as blob:
            while offset < item.size:
                self._check_limit(item)
                blob.seek(offset)
                chunk = blob.read(min(self.limits.chunk_size, item.size - offset))
                offset = self._patch(url, offset, chunk, item)
        if offset > item.size:
            raise ServerRefusedError(
                f"the server claims {offset} bytes of {item.name}, which has {item.size}", status=0
            )
        upload_id = url.rstrip("/").rsplit("/", 1)[1]
        state.save_progress(self.spool, item.item_id, upload_offset=item.size, upload_id=upload_id)
        return upload_id

    def _patch(self, url: str, offset: int, chunk: bytes, item: SyncItem) -> int:
        """Send one chunk; return the offset the server holds afterwards (asking it after any failure)."""
        headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
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
        self._advance(item, new_offset - offset)
        state.save_progress(self.spool, item.item_id, upload_offset=new_offset)
        return new_offset

    def _offset_or_raise(self, url: str, item: SyncItem) -> int:
        offset = self._server_offset(url, item)
        if offset is None:
            raise ServerRefusedError(f"upload of {item.name} is gone on the server", status=410)
        return offset

    def _advance(self, item: SyncItem, count: int) -> None:
        self.sent += count
        self.progress(count)

    def _check_limit(self, item: SyncItem) -> None:
        limit = self.limits.stop_after_bytes
        if limit is not None and self.sent >= limit:
            raise UploadStopped(f"stopped after {self.sent} bytes, during {item.name} (resumes on the next sync)")

    @staticmethod
    def _check_hash(answer: httpx.Response, item: SyncItem) -> None:
        if answer.headers["Upload-Sha256"] != item.sha256:
            raise ServerRefusedError(
                f"the server hashed {item.name} as {answer.headers['Upload-Sha256']}, not {item.sha256}", status=460
            )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
