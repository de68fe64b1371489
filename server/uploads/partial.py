"""Partial uploads on disk: one file per upload in ``settings.upload_dir``, locked while a request writes it.

The file's size is the upload's offset. A PATCH takes an exclusive, non-blocking ``flock`` on it (a second writer
gets 423 and retries), which also works across server workers sharing the folder. Bytes are only ever appended;
the bytes of one request may be cut off again (``truncate`` to where that request started) when the request is
refused, so no byte below a request's start offset is ever changed.

Hashing as the bytes arrive: the appending thread feeds a SHA-256 of the whole file. Its state cannot be saved to
disk, so it is kept in this process (``take_running``/``keep_running``) with the file's identity (device, inode,
size, modification time) after the last write; the next PATCH continues it only if the file is still exactly that.
After a restart, or when the previous PATCH went to another worker, there is no running hash and the file is
hashed from its first byte when it is complete: slower, never wrong.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from server.config import Settings
from server.errors import ApiError
from server.uploads.tus import Hash

MAX_RUNNING = 1024  # running hashes kept per process; an evicted one only costs a re-read at the end

Signature = tuple[int, int, int, int]
_RETRY = {"Retry-After": "2"}


@dataclass(frozen=True)
class Partial:
    """An open, locked partial file."""

    path: Path
    fd: int

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def signature(self) -> Signature:
        status = os.fstat(self.fd)
        return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def partial_path(settings: Settings, upload_id: str) -> Path:
    return settings.upload_dir / f"{upload_id}.part"


def create_partial(path: Path) -> None:
    """The new upload's empty partial file (never an existing one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def stored_size(path: Path) -> int | None:
    """The partial file's size (the offset stored so far), or None if it is gone."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


@contextmanager
def locked(path: Path) -> Iterator[Partial]:
    """The partial file, open and exclusively locked; 423 if a request is writing it, 410 if it is gone."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError as exc:
        raise ApiError(410, "this upload's bytes are gone; start a new upload") from exc
    try:
        if not _try_lock(fd):
            raise ApiError(
                423, "another request is writing this upload; try again shortly", code="locked", headers=_RETRY
            )
        if os.fstat(fd).st_nlink == 0:  # removed (expired, terminated) between open and lock
            raise ApiError(410, "this upload's bytes are gone; start a new upload")
        yield Partial(path, fd)
    finally:
        os.close(fd)


def remove_unless_busy(path: Path) -> bool:
    """Remove the partial file unless a request is writing it; True if it is gone now."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        if not _try_lock(fd):
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def truncate(partial: Partial, size: int) -> None:
    """Cut the file back to ``size`` bytes (a refused request's bytes) and make that durable."""
    os.ftruncate(partial.fd, size)
    os.fsync(partial.fd)


_running: OrderedDict[str, tuple[Signature, Hash]] = OrderedDict()
_running_lock = threading.Lock()


def take_running(upload_id: str, partial: Partial) -> Hash | None:
    """The SHA-256 of the file's bytes so far, if this process kept it and the file is unchanged since."""
    with _running_lock:
        kept = _running.pop(upload_id, None)
    if kept is not None and kept[0] == partial.signature():
        return kept[1]
    return None


def keep_running(upload_id: str, partial: Partial, hasher: Hash) -> None:
    with _running_lock:
        _running[upload_id] = (partial.signature(), hasher)
        while len(_running) > MAX_RUNNING:
            _running.popitem(last=False)


def forget_running(upload_id: str) -> None:
    with _running_lock:
        _running.pop(upload_id, None)


def write_at(fd: int, data: memoryview, offset: int) -> None:
    """Write ``data`` at ``offset``: one system call, or more if the kernel writes less than asked."""
    while data:
        count = os.pwrite(fd, data, offset)
        data, offset = data[count:], offset + count


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None  # not Linux: fsync does all the work at the end of the request
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()
_WAIT_BEFORE, _WRITE, _WAIT_AFTER = 1, 2, 4


def start_writeback(fd: int, offset: int, count: int) -> None:
    """Ask the kernel to start writing this range to disk now, so the request's closing fsync has little left.

    This changes neither the bytes nor durability (the fsync still decides both); a failure only means later.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, count, _WRITE)


def release_written(fd: int, offset: int, count: int) -> None:
    """Wait until this range is on disk, then drop it from the page cache.

    An upload then occupies a few MiB of page cache instead of its whole size (a 16 GiB upload would otherwise push
    everything else out), the kernel reuses the pages just freed for the next bytes, and the writer keeps pace with
    the disk instead of leaving it all to the final fsync. Only clean pages are dropped: the bytes are unchanged.
    """
    if _sync_file_range is None or not hasattr(os, "posix_fadvise"):
        return
    _sync_file_range(fd, offset, count, _WAIT_BEFORE | _WRITE | _WAIT_AFTER)
    os.posix_fadvise(fd, offset, count, os.POSIX_FADV_DONTNEED)
