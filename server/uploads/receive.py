"""One PATCH body, from the connection to the end of the partial file: streamed, hashed, fsynced, never held whole.

The event loop reads the body (``request.stream()``) and copies its chunks into a batch buffer of ``BATCH_BYTES``;
when the buffer is full, two worker threads take it, one writing it at the file's end, the other feeding it to the
hashes (the whole file's SHA-256, and the request's ``Upload-Checksum`` if any), while the loop already fills the
other buffer. Two buffers per request, so at most two batches are in memory. Every ``WRITEBACK_BYTES`` the writing
thread asks the kernel to start writing to disk, so the fsync that ends the request (before it is answered) has
little left to do.

Why copy each chunk once more instead of keeping the chunks: a chunk is then freed as soon as it is copied, as in a
handler that only reads, so the allocator hands the same hot memory back for the next one. Kept chunks (8 MiB of
them alive at a time) made the C allocator give memory back to the system batch after batch and fault it in again:
about 80,000 page faults per GiB on the event loop's thread, which cost far more than the copy. The buffers
themselves are reused across requests (``_BufferPool``), and each thread gets one contiguous buffer: one system
call to write it, one hash update (the GIL released once) per batch instead of one per chunk.

How a body ends decides what is kept:

- read to its end: kept (unless its ``Upload-Checksum`` does not match: 460, and nothing of it is kept);
- the client went away, or sent nothing for ``IDLE_SECONDS`` (a mobile link that died silently): what arrived is
  kept and fsynced, so HEAD tells the client where to resume; with ``Upload-Checksum``, nothing is kept (the
  checksum covers the whole body, which never came);
- more than the upload has room for: 413, and nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import hashlib
import os
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect

from server.errors import ApiError
from server.uploads import partial as disk
from server.uploads.tus import CHECKSUM_MISMATCH, Checksum, Hash, new_hasher

MiB = 1024 * 1024
BATCH_BYTES = 4 * MiB
WRITEBACK_BYTES = 8 * MiB
CACHED_BYTES = 16 * MiB  # written bytes left in the page cache behind the writer before they are dropped
SPARE_BUFFERS = 4  # batch buffers kept for the next requests (BATCH_BYTES each)
IDLE_SECONDS = 60.0
_REARM_SECONDS = 1.0  # the idle deadline moves on at most this often (moving it on every chunk costs time)
_EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="fieldproof-upload")

T = TypeVar("T")


class Ending(enum.Enum):
    """How a PATCH body ended."""

    COMPLETE = "complete"
    DROPPED = "dropped"  # the client disconnected
    STALLED = "stalled"  # nothing arrived for IDLE_SECONDS
    TOO_LONG = "too long"  # more bytes than the upload has room for


@dataclass(frozen=True)
class Appended:
    """The outcome of one PATCH: how its body ended and the offset now stored (the file's size)."""

    ending: Ending
    start: int
    offset: int
    running: Hash | None  # the SHA-256 of the file's first ``offset`` bytes, if known in this process


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking file work on the upload threads (not the shared pool that sync endpoints need)."""
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, function, *args)


class _BufferPool:
    """Batch buffers kept between requests: a fresh one costs a page fault per 4 KiB the first time it is filled."""

    def __init__(self, spares: int) -> None:
        self._spares: list[bytearray] = []
        self._limit = spares
        self._lock = threading.Lock()

    def take(self) -> bytearray:
        with self._lock:
            while self._spares:
                buffer = self._spares.pop()
                if len(buffer) == BATCH_BYTES:
                    return buffer
        return bytearray(BATCH_BYTES)

    def give(self, buffer: bytearray) -> None:
        with self._lock:
            if len(self._spares) < self._limit:
                self._spares.append(buffer)


_BUFFERS = _BufferPool(SPARE_BUFFERS)


class Appender:
    """Appends one request's bytes to a locked partial file from worker threads, one batch behind the loop.

    ``close`` must be called at the end (``append`` does): it waits for the threads and gives the buffers back.
    """

    def __init__(self, partial: disk.Partial, hashers: list[Hash]) -> None:
        self._fd = partial.fd
        self.start = partial.size()
        self.received = 0
        self._hashers = hashers
        self._filling, self._spare = _BUFFERS.take(), _BUFFERS.take()
        self._filled = 0
        self._next_offset = self.start
        self._writeback_from = self._released = self.start
        self._in_flight: asyncio.Future[Any] | None = None

    @property
    def full(self) -> bool:
        return self._filled == BATCH_BYTES

    def add(self, chunk: memoryview) -> memoryview:
        """Copy what fits of ``chunk`` into the batch; return the rest, which is empty unless the batch is full."""
        count = min(len(chunk), BATCH_BYTES - self._filled)
        self._filling[self._filled : self._filled + count] = chunk[:count]
        self._filled += count
        self.received += count
        return chunk[count:]

    async def flush(self) -> None:
        """Hand the filled part of the buffer to the threads once they have finished the previous batch."""
        await self._settle()
        if self._filled:
            batch, offset = memoryview(self._filling)[: self._filled], self._next_offset
            self._next_offset += self._filled
            self._filling, self._spare, self._filled = self._spare, self._filling, 0
            loop = asyncio.get_running_loop()
            self._in_flight = asyncio.gather(
                loop.run_in_executor(_EXECUTOR, self._write, batch, offset),
                loop.run_in_executor(_EXECUTOR, self._hash, batch),
                return_exceptions=True,  # both threads are done with the batch before a failure is raised
            )

    async def finish(self) -> None:
        """Write everything taken, then fsync: the bytes are durable when this returns."""
        await self.flush()
        await self._settle()
        await in_thread(os.fsync, self._fd)

    async def quiesce(self) -> None:
        """Let the threads finish what they are writing (so the file stays still); drop the rest; ignore failures."""
        self._filled = 0
        if self._in_flight is not None:
            await asyncio.wait([self._in_flight])
            self._in_flight = None

    async def close(self) -> None:
        """Wait for the threads (they may be using a buffer), then give the buffers back."""
        await self.quiesce()
        for buffer in (self._filling, self._spare):
            _BUFFERS.give(buffer)

    async def _settle(self) -> None:
        """Wait until the threads are done with their batch, then raise what failed in them.

        Shielded: if the request is cancelled meanwhile, the batch stays in flight for ``quiesce`` to wait for, so
        the file is never cut back while a thread still writes to it.
        """
        if self._in_flight is not None:
            outcomes = await asyncio.shield(self._in_flight)
            self._in_flight = None
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    def _hash(self, batch: memoryview) -> None:
        for hasher in self._hashers:
            hasher.update(batch)

    def _write(self, batch: memoryview, offset: int) -> None:
        disk.write_at(self._fd, batch, offset)
        end = offset + len(batch)
        if end - self._writeback_from >= WRITEBACK_BYTES:
            disk.start_writeback(self._fd, self._writeback_from, end - self._writeback_from)
            self._writeback_from = end
        if end - self._released >= 2 * CACHED_BYTES:
            upto = end - CACHED_BYTES
            disk.release_written(self._fd, self._released, upto - self._released)
            self._released = upto


async def append(
    body: AsyncGenerator[bytes, None], partial: disk.Partial, *, upload_id: str, length: int, checksum: Checksum | None
) -> Appended:
    """Append one PATCH body to ``partial`` (locked by the caller) and say what was kept."""
    start = partial.size()
    running = disk.take_running(upload_id, partial) or (hashlib.sha256() if start == 0 else None)
    before = running.copy() if running is not None else None
    request_hash = new_hasher(checksum.algorithm) if checksum is not None else None
    appender = Appender(partial, [h for h in (running, request_hash) if h is not None])
    try:
        ending = await _received(body, appender, partial, upload_id=upload_id, length=length, before=before)
        if checksum is not None and not _matches(ending, request_hash, checksum):
            await _undo(appender, partial, upload_id, before)
            _refuse_unless_cut_short(ending, checksum, start)
            return Appended(ending, start, start, before)
    finally:
        await appender.close()
    if running is not None:
        disk.keep_running(upload_id, partial, running)
    return Appended(ending, start, start + appender.received, running)


async def _received(
    body: AsyncGenerator[bytes, None],
    appender: Appender,
    partial: disk.Partial,
    *,
    upload_id: str,
    length: int,
    before: Hash | None,
) -> Ending:
    """The body received and made durable, or none of it kept (413, 507, any failure)."""
    try:
        ending = await receive(body, appender, room=length - appender.start)
        if ending is Ending.TOO_LONG:
            raise ApiError(413, f"this PATCH would pass Upload-Length ({length}): nothing of it was kept")
        await appender.finish()
    except OSError as exc:
        await _undo(appender, partial, upload_id, before)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ApiError(507, "the server has no room for these bytes now; try again later", code="no_space") from exc
        raise
    except BaseException:
        await _undo(appender, partial, upload_id, before)
        raise
    return ending


def _matches(ending: Ending, request_hash: Hash | None, checksum: Checksum) -> bool:
    """Whether the whole body came and has the digest its ``Upload-Checksum`` names."""
    return ending is Ending.COMPLETE and request_hash is not None and request_hash.digest() == checksum.digest


async def receive(body: AsyncGenerator[bytes, None], appender: Appender, *, room: int) -> Ending:
    """Feed the body to ``appender`` until it ends, stops, stalls or passes ``room`` bytes."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(IDLE_SECONDS) as idle, aclosing(body) as chunks:
            armed = loop.time()
            async for chunk in chunks:
                if appender.received + len(chunk) > room:
                    return Ending.TOO_LONG
                rest = appender.add(memoryview(chunk))
                while appender.full:
                    idle.reschedule(None)  # the deadline is for the client, not for our disk
                    await appender.flush()
                    armed = -_REARM_SECONDS
                    rest = appender.add(rest)
                if (now := loop.time()) - armed >= _REARM_SECONDS:
                    idle.reschedule(now + IDLE_SECONDS)
                    armed = now
    except TimeoutError:
        return Ending.STALLED
    except ClientDisconnect:
        return Ending.DROPPED
    return Ending.COMPLETE


async def _undo(appender: Appender, partial: disk.Partial, upload_id: str, before: Hash | None) -> None:
    """Cut the file back to where this request started; the running hash goes back to match it."""
    await appender.quiesce()
    await in_thread(disk.truncate, partial, appender.start)
    if before is not None:
        disk.keep_running(upload_id, partial, before)
    else:
        disk.forget_running(upload_id)


def _refuse_unless_cut_short(ending: Ending, checksum: Checksum, start: int) -> None:
    if ending is Ending.COMPLETE:
        raise ApiError(
            CHECKSUM_MISMATCH,
            f"the bytes of this PATCH do not match its Upload-Checksum ({checksum.algorithm}): none were kept",
            code="checksum_mismatch",
            headers={"Upload-Offset": str(start)},
        )
