"""The server's blob store: the kernel's content-addressed store at ``settings.blob_dir``, plus adoption.

Blobs live under their SHA-256 (``blobs/sha256/ab/cd/abcd…``) and are never overwritten: new bytes are written to a
temporary file, fsynced, then hard-linked into place, and a link fails rather than replace an existing name. A blob
this store creates is made read-only (mode 0444), so an original is not modified by accident.

``adopt`` takes a finished upload into the store *without copying it*: the upload's file, already fsynced and
hashed by its receiver, gets a second name under its hash (a hard link on the same filesystem). If identical bytes
are already stored, the existing blob is kept as it is. Only when a link is impossible (the upload folder on another
filesystem) are the bytes copied, and then hashed again while copying.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO

from evidence.errors import StoreError
from evidence.hashing import ContentStore, Digest, StoredBlob, fsync_directory
from server.config import Settings

__all__ = ["BlobStore", "MissingBlobError"]

READ_ONLY = 0o444
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK}  # other filesystem, or no hard links there


class MissingBlobError(StoreError):
    """No blob is stored under this SHA-256."""


class BlobStore:
    """Blobs by SHA-256 (lower-case hex) under ``settings.blob_dir``; every worker must share that folder."""

    def __init__(self, settings: Settings) -> None:
        self._store = ContentStore(settings.blob_dir)

    @property
    def root(self) -> Path:
        return self._store.root

    def has(self, sha256: str) -> bool:
        """Whether a blob is stored under ``sha256`` (a malformed digest raises ``StoreError``)."""
        return self._store.has(sha256)

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` is (or would be) stored; it may not exist."""
        return self._store.path_for(sha256)

    def open(self, sha256: str) -> BinaryIO:
        """The blob, open for reading; ``MissingBlobError`` if it is not stored."""
        try:
            return self._store.open(sha256)
        except FileNotFoundError as exc:
            raise MissingBlobError(f"no blob {sha256}") from exc

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored blob: True only if it exists and its bytes still have the hash it is stored under."""
        return self._store.verify(sha256)

    def put_file(self, source: Path) -> Digest:
        """Copy ``source`` in (hashing it in the same read pass); the source is left untouched."""
        return self._created(self._store.put_file(source))

    def put_bytes(self, data: bytes) -> Digest:
        return self._created(self._store.put_bytes(data))

    def adopt(self, source: Path, digest: Digest) -> StoredBlob:
        """Give ``source``, whose bytes the caller has fsynced and hashed to ``digest``, a name in the store.

        A hard link: no byte is copied and ``source`` keeps its name (the caller removes it once its own records
        say the blob is stored). An existing blob with that hash is never replaced (``created`` is then False).
        Across filesystems the bytes are copied and hashed again, and ``StoreError`` is raised if they differ.
        """
        size = os.stat(source).st_size
        if size != digest.size:
            raise StoreError(f"{source} holds {size} bytes, not the {digest.size} it was hashed with")
        final = self._store.path_for(digest.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, final)
        except FileExistsError:
            return StoredBlob(digest, final, created=False)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise StoreError(f"could not store blob {digest.sha256}: {exc}") from exc
            return self._adopt_by_copy(source, digest)
        os.chmod(final, READ_ONLY)
        fsync_directory(final.parent)
        return StoredBlob(digest, final, created=True)

    def _adopt_by_copy(self, source: Path, digest: Digest) -> StoredBlob:
        blob = self._store.put_file(source)
        if blob.digest != digest:
            raise StoreError(f"{source} hashes to {blob.digest.sha256} when copied, not {digest.sha256}")
        self._created(blob)
        return blob

    def _created(self, blob: StoredBlob) -> Digest:
        if blob.created:
            os.chmod(blob.path, READ_ONLY)
        return blob.digest
