"""Streaming SHA-256 in bounded memory, and hash-while-copy into a content-addressed store.

Evidence is hashed at first touch: the same read pass that copies a file also hashes it, so the bytes hashed are
the bytes kept. The copy itself (an I/O thread reading and writing while the caller hashes, in bounded memory) is
in ``evidence.hashcopy``.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from evidence.errors import SourceChangedError, StoreError
from evidence.hashcopy import CHUNK_SIZE, copy_and_hash

# What the hashing functions read from: real files (unbuffered or buffered) and zip members alike.
BinaryReader = io.RawIOBase | io.BufferedIOBase


__all__ = [
    "CHUNK_SIZE",
    "BinaryReader",
    "ContentStore",
    "Digest",
    "StoredBlob",
    "copy_hashing",
    "is_sha256_hex",
    "sha256_bytes",
    "sha256_file",
    "sha256_stream",
]


@dataclass(frozen=True, slots=True)
class Digest:
    """SHA-256 (lower-case hex) and size in bytes of an exact sequence of bytes."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob in a ContentStore; ``created`` is False when identical bytes were already stored."""

    digest: Digest
    path: Path
    created: bool


def sha256_bytes(data: bytes) -> Digest:
    return Digest(hashlib.sha256(data).hexdigest(), len(data))


def is_sha256_hex(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def sha256_stream(stream: BinaryReader, *, progress: Callable[[int], None] | None = None) -> Digest:
    """Hash a binary stream to its end in CHUNK_SIZE pieces."""
    hasher = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    while count := stream.readinto(view):
        hasher.update(view[:count])
        size += count
        if progress:
            progress(count)
    return Digest(hasher.hexdigest(), size)


def sha256_file(path: Path, *, progress: Callable[[int], None] | None = None) -> Digest:
    with open(path, "rb", buffering=0) as stream:
        return sha256_stream(stream, progress=progress)


def copy_hashing(source: Path, destination: Path, *, progress: Callable[[int], None] | None = None) -> Digest:
    """Copy ``source`` to the new file ``destination`` in one read pass, hashing what is read; fsync it.

    The source is opened read-only. Its size and modification time are taken before and after; if they differ,
    or the bytes read differ from the size, the copy is removed and ``SourceChangedError`` raised. The
    destination must not exist (it is created exclusively), so nothing is ever overwritten.
    """
    before = _stat_or_raise(source)
    with open(source, "rb", buffering=0) as reader:
        try:
            writer = open(destination, "xb", buffering=0)  # noqa: SIM115 - closed below; cleanup needs it apart
        except FileExistsError as exc:
            raise StoreError(f"{destination} already exists; a copy never overwrites") from exc
        try:
            with writer:
                sha256, size = copy_and_hash(reader, writer, progress, size_hint=before.st_size)
                digest = Digest(sha256, size)
                os.fsync(writer.fileno())
            after_open = os.fstat(reader.fileno())
        except BaseException:
            destination.unlink(missing_ok=True)  # only the file this call created
            raise
    after = _stat_or_raise(source, cleanup=destination)
    expected = _signature(before)
    if _signature(after_open) != expected or _signature(after) != expected or digest.size != before.st_size:
        destination.unlink()
        raise SourceChangedError(
            f"{source}: changed while being read (size {before.st_size} before, {after.st_size} after, "
            f"{digest.size} bytes read; modification time "
            f"{'changed' if after.st_mtime_ns != before.st_mtime_ns else 'unchanged'})"
        )
    return digest


def _signature(status: os.stat_result) -> tuple[int, int]:
    return status.st_size, status.st_mtime_ns


def _stat_or_raise(source: Path, cleanup: Path | None = None) -> os.stat_result:
    try:
        return os.stat(source)
    except FileNotFoundError as exc:
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)
        raise SourceChangedError(f"{source}: vanished while being imported") from exc


class ContentStore:
    """Blobs kept under their SHA-256: ``ROOT/sha256/ab/cd/abcd…``. A stored blob is never overwritten.

    New blobs are written to ``ROOT/tmp`` with one hashing read pass, fsynced, then hard-linked into place, which
    fails rather than replaces if the name exists: two writers of the same bytes both end with one intact blob.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not is_sha256_hex(sha256):
            raise StoreError(f"not a lower-case SHA-256 hex digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put_file(self, source: Path, *, progress: Callable[[int], None] | None = None) -> StoredBlob:
        """Copy and hash ``source`` in one pass; keep it unless identical bytes are already stored."""
        temporary = self._tmp / f"{uuid.uuid4().hex}.part"
        digest = copy_hashing(source, temporary, progress=progress)
        return self._commit(temporary, digest)

    def put_bytes(self, data: bytes) -> StoredBlob:
        temporary = self._tmp / f"{uuid.uuid4().hex}.part"
        with open(temporary, "xb") as writer:
            writer.write(data)
            writer.flush()
            os.fsync(writer.fileno())
        return self._commit(temporary, sha256_bytes(data))

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")

    def verify(self, sha256: str) -> bool:
        """Re-hash a stored blob and say whether it still has the hash it is stored under."""
        path = self.path_for(sha256)
        return path.is_file() and sha256_file(path).sha256 == sha256

    def iter_hashes(self) -> Iterator[str]:
        for path in sorted((self.root / "sha256").glob("*/*/*")):
            if is_sha256_hex(path.name):
                yield path.name

    def _commit(self, temporary: Path, digest: Digest) -> StoredBlob:
        final = self.path_for(digest.sha256)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(temporary, final)
                created = True
            except FileExistsError:
                created = False
            fsync_directory(final.parent)
        except OSError as exc:
            raise StoreError(f"could not store blob {digest.sha256}: {exc}") from exc
        finally:
            temporary.unlink(missing_ok=True)
        return StoredBlob(digest, final, created)


def fsync_directory(directory: Path) -> None:
    """Make a rename or link in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
