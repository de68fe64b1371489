"""The one-pass copy behind ``hashing.copy_hashing``: an I/O thread reads and writes, the caller hashes.

Both threads work on the same chunk at once (hashing and the write syscall release the GIL), and a chunk's
buffer is reused only when both are done with it, so memory stays at ``BUFFERS`` chunks whatever the file size.
Hashing is the slowest stage, so it gets a thread to itself. The I/O thread also asks the kernel to start writing
each 8 MiB to disk as it goes (Linux ``sync_file_range``), so the caller's final ``fsync`` has little left to do;
that call only starts writeback early and changes nothing about durability or the bytes.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

from evidence.errors import StoreError

CHUNK_SIZE = 1024 * 1024
BUFFERS = 8
WRITEBACK_EVERY = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2

Progress = Callable[[int], None] | None


def copy_and_hash(
    reader: io.RawIOBase, writer: BinaryIO, progress: Progress, *, size_hint: int | None = None
) -> tuple[str, int]:
    """Copy ``reader`` to ``writer`` to the end; return (SHA-256 hex, bytes) of exactly what was written.

    ``size_hint`` (the expected size) lets a small file use fewer buffers: allocating 8 MiB to copy a 2 MB photo
    cost more than hashing it.
    """
    wanted = BUFFERS if size_hint is None else -(-size_hint // CHUNK_SIZE) + 1
    pool = _BufferPool(min(BUFFERS, max(2, wanted)))
    chunks: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
    failure: list[BaseException] = []
    io_thread = threading.Thread(
        target=_read_and_write, args=(reader, writer, pool, chunks, failure), name="hash-copy-io", daemon=True
    )
    io_thread.start()
    hasher = hashlib.sha256()
    size = 0
    try:
        while (job := chunks.get()) is not None:
            buffer, count = job
            hasher.update(memoryview(buffer)[:count])
            pool.release(buffer)
            size += count
            if progress:
                progress(count)
    finally:
        pool.close()  # if this thread stops early, the I/O thread must not wait for buffers forever
        io_thread.join()
    if failure:
        raise StoreError(f"copying failed: {failure[0]}") from failure[0]
    return hasher.hexdigest(), size


def _read_and_write(
    reader: io.RawIOBase,
    writer: BinaryIO,
    pool: _BufferPool,
    chunks: queue.Queue[tuple[bytearray, int] | None],
    failure: list[BaseException],
) -> None:
    written = started = 0
    try:
        while (buffer := pool.acquire()) is not None:
            count = reader.readinto(buffer) or 0
            if count == 0:
                pool.discard(buffer)
                break
            chunks.put((buffer, count))  # the hashing thread starts on it while this one writes it
            _write_all(writer, memoryview(buffer)[:count])
            pool.release(buffer)
            written += count
            if written - started >= WRITEBACK_EVERY:
                _start_writeback(writer.fileno(), started, written - started)
                started = written
    except BaseException as exc:  # handed to the hashing thread, which re-raises it
        failure.append(exc)
    finally:
        chunks.put(None)


def _write_all(writer: BinaryIO, view: memoryview) -> None:
    while view:
        written = writer.write(view)
        if written is None:  # pragma: no cover - only non-blocking streams return None
            raise StoreError("non-blocking writer refused data")
        view = view[written:]


class _BufferPool:
    """Chunk buffers handed to two users at once; a buffer is free again when both have released it."""

    def __init__(self, count: int) -> None:
        self._free = [bytearray(CHUNK_SIZE) for _ in range(count)]
        self._holders: dict[int, int] = {}
        self._closed = False
        self._condition = threading.Condition()

    def acquire(self) -> bytearray | None:
        """A free buffer held by two users, or None once the pool is closed."""
        with self._condition:
            while not self._free and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            buffer = self._free.pop()
            self._holders[id(buffer)] = 2
            return buffer

    def release(self, buffer: bytearray) -> None:
        with self._condition:
            self._holders[id(buffer)] -= 1
            if self._holders[id(buffer)] == 0:
                self._free.append(buffer)
                self._condition.notify()

    def discard(self, buffer: bytearray) -> None:
        """Return a buffer that was never handed to the second user."""
        self.release(buffer)
        self.release(buffer)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None  # not Linux: the final fsync does all the work
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, count: int) -> None:
    # A failure here only means writeback starts later; fsync still decides durability and reports errors.
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, count, _SYNC_FILE_RANGE_WRITE)
