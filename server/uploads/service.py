"""uploads: creating, finding, concluding, terminating and sweeping uploads; the one call item registration makes.

Services take keyword-only arguments and flush; the request's unit of work commits. Two deliberate exceptions,
both about the database lock (SQLite takes its write lock when a transaction begins, and holds it to the end):

- ``end_read_transaction``: a PATCH body may take minutes over a poor link, so the request's reads (token, upload)
  are ended before the body streams in, and its few writes happen in a new transaction after it.
- ``record_failure`` runs in a transaction of its own: a failed upload is answered with an error, whose request
  transaction is rolled back, yet the failure must be kept.

An upload becomes a blob only if the SHA-256 of every byte received equals the SHA-256 its client declared at
creation. Otherwise it fails: its bytes are deleted and nothing of it reaches the blob store.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from evidence.hashing import Digest, sha256_file
from server.auth import Principal
from server.config import Settings
from server.db import transaction
from server.errors import ApiError
from server.storage import BlobStore
from server.uploads import partial as disk
from server.uploads.models import COMPLETE, EXPIRED, FAILED, RECEIVING, TERMINATED, Upload
from server.uploads.tus import CHECKSUM_MISMATCH, Hash, Metadata

ORPHAN_GRACE_SECONDS = 600  # a partial file with no upload in progress is removed once this old


@dataclass(frozen=True)
class UploadView:
    """An upload's row, read once: safe to use after its transaction ended."""

    id: str
    owner_id: int
    length: int
    sha256: str
    filename: str | None
    metadata_header: str
    status: str
    expires_at: datetime

    @classmethod
    def of(cls, row: Upload) -> UploadView:
        return cls(
            row.id,
            row.owner_id,
            row.length,
            row.sha256,
            row.filename,
            row.metadata_header,
            row.status,
            aware(row.expires_at),
        )


@dataclass(frozen=True)
class CompletedUpload:
    """A complete upload's bytes, stored as the blob ``sha256``."""

    sha256: str
    size: int
    filename: str | None


def aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; every one stored here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def create_upload(
    session: Session, *, principal: Principal, length: int, metadata: Metadata, settings: Settings
) -> UploadView:
    """A new upload of ``length`` bytes owned by ``principal``, and its empty partial file (413 over the cap)."""
    check_length(length, settings)
    now = now_utc()
    row = Upload(
        id=secrets.token_hex(16),
        owner_id=principal.user_id,
        length=length,
        sha256=metadata.sha256,
        filename=metadata.filename,
        metadata_header=metadata.raw,
        status=RECEIVING,
        created_at=now,
        expires_at=now + settings.upload_expiry,
    )
    session.add(row)
    session.flush()
    disk.create_partial(disk.partial_path(settings, row.id))
    return UploadView.of(row)


def check_length(length: int, settings: Settings) -> None:
    """413 if ``length`` is over the server's cap (``max_upload_bytes``, announced as ``Tus-Max-Size``)."""
    if length > settings.max_upload_bytes:
        limit = settings.max_upload_bytes
        raise ApiError(413, f"Upload-Length {length} is over this server's limit of {limit} bytes", max_bytes=limit)


def find_upload(session: Session, *, upload_id: str, principal: Principal, settings: Settings) -> UploadView:
    """The caller's upload, receiving or complete: 404 if unknown or another's, 410 if it has ended otherwise.

    An expired upload's partial file is removed here and then (unless a request is writing it), not only at the
    next sweep; the sweep still marks the upload expired (this request's transaction ends with the 410).
    """
    row = _owned(session, upload_id, principal)
    if row.status == RECEIVING and aware(row.expires_at) <= now_utc():
        if disk.remove_unless_busy(disk.partial_path(settings, row.id)):
            disk.forget_running(row.id)
        raise ApiError(410, "this upload expired before it was complete; start a new upload", upload_status=EXPIRED)
    if row.status not in (RECEIVING, COMPLETE):
        reason = f": {row.failure}" if row.failure else ""
        raise ApiError(410, f"this upload is {row.status}{reason}; start a new upload", upload_status=row.status)
    return UploadView.of(row)


def _owned(session: Session, upload_id: str, principal: Principal) -> Upload:
    row = session.get(Upload, upload_id, populate_existing=True)
    if row is None or row.owner_id != principal.user_id:
        raise ApiError(404, "no such upload")
    return row


def end_read_transaction(session: Session) -> None:
    """End the request's transaction, which has only read so far, so no lock is held while a body streams in."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_read_transaction with unflushed changes")
    session.commit()


def record_progress(session: Session, *, upload_id: str, settings: Settings) -> datetime:
    """Bytes arrived: the upload now expires ``upload_expiry`` from now. Returns the new expiry."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise ApiError(404, "no such upload")
    row.expires_at = now_utc() + settings.upload_expiry
    session.flush()
    return row.expires_at


def conclude(
    session: Session,
    sessions: sessionmaker[Session],
    *,
    view: UploadView,
    partial: disk.Partial,
    running: Hash | None,
    settings: Settings,
) -> str:
    """Every byte is in ``partial`` (locked, fsynced): check the whole file's SHA-256, then adopt it or fail it.

    Uses the hash computed while the bytes arrived when this process has it for the whole file, else reads the
    file again. On a match the file becomes a blob (linked, not copied); on a mismatch the upload fails (recorded
    in its own transaction), its file is deleted and 460 is raised. Returns the SHA-256.
    """
    received = running.hexdigest() if running is not None else sha256_file(partial.path).sha256
    if received != view.sha256:
        reason = f"its bytes hash to {received}, not to the declared {view.sha256}"
        record_failure(sessions, upload_id=view.id, reason=reason)
        disk.forget_running(view.id)
        partial.path.unlink(missing_ok=True)
        raise ApiError(
            CHECKSUM_MISMATCH,
            f"upload refused: {reason}; nothing was kept",
            code="sha256_mismatch",
            declared=view.sha256,
            received=received,
        )
    BlobStore(settings).adopt(partial.path, Digest(received, view.length))
    disk.forget_running(view.id)
    record_complete(session, upload_id=view.id, sha256=received, partial=partial.path)
    return received


def record_complete(session: Session, *, upload_id: str, sha256: str, partial: Path) -> None:
    """Mark the upload complete; its partial file (now also a blob's name) goes once that is committed."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise ApiError(404, "no such upload")
    row.status, row.received_sha256, row.finished_at = COMPLETE, sha256, now_utc()
    session.flush()
    event.listen(session, "after_commit", lambda _session: partial.unlink(missing_ok=True), once=True)


def record_failure(sessions: sessionmaker[Session], *, upload_id: str, reason: str) -> None:
    """Mark the upload failed, in a transaction of its own (the request that found out will answer an error)."""
    with transaction(sessions) as session:
        row = session.get(Upload, upload_id)
        if row is not None and row.status == RECEIVING:
            row.status, row.failure, row.finished_at = FAILED, reason, now_utc()


def terminate_upload(session: Session, *, view: UploadView, settings: Settings) -> None:
    """Termination: the partial bytes go at once (423 while a request writes them). A complete upload's blob
    stays: blobs are never deleted through uploads, since identical bytes may be evidence already."""
    if view.status == RECEIVING and not disk.remove_unless_busy(disk.partial_path(settings, view.id)):
        raise ApiError(423, "a request is writing this upload; try again shortly", code="locked")
    disk.forget_running(view.id)
    row = session.get(Upload, view.id)
    if row is not None:
        row.status, row.finished_at = TERMINATED, now_utc()
        session.flush()


def sweep_expired(session: Session, settings: Settings) -> int:
    """Remove the partial files of expired uploads (and of none in progress); mark them expired. Returns how many.

    Cheap when there is nothing to do (one indexed query, one listing of the partial-upload folder). An upload
    being written right now is left for the next sweep: its PATCH will move its expiry on anyway.
    """
    now = now_utc()
    expired = session.scalars(select(Upload).where(Upload.status == RECEIVING, Upload.expires_at <= now)).all()
    count = 0
    for row in expired:
        if disk.remove_unless_busy(disk.partial_path(settings, row.id)):
            disk.forget_running(row.id)
            row.status, row.finished_at = EXPIRED, now
            count += 1
    session.flush()
    _remove_orphans(session, settings, now)
    return count


def _remove_orphans(session: Session, settings: Settings, now: datetime) -> None:
    """Partial files no upload in progress owns: left by a crash between a commit and a file's removal."""
    if not settings.upload_dir.is_dir():
        return
    files = {path.stem: path for path in settings.upload_dir.glob("*.part")}
    if not files:
        return
    receiving = set(session.scalars(select(Upload.id).where(Upload.id.in_(files), Upload.status == RECEIVING)))
    for upload_id, path in files.items():
        if upload_id not in receiving and _older_than(path, now, ORPHAN_GRACE_SECONDS):
            disk.remove_unless_busy(path)


def _older_than(path: Path, now: datetime, seconds: float) -> bool:
    try:
        return now.timestamp() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def completed_upload(session: Session, *, upload_id: str, principal: Principal) -> CompletedUpload:
    """The caller's complete upload, for registering its bytes as an evidence item.

    404 if the upload is unknown or another user's; 409 if it is not complete (still receiving, failed, terminated
    or expired). A complete upload's bytes are the blob ``sha256`` in the store, verified against the declared hash.
    """
    row = _owned(session, upload_id, principal)
    if row.status != COMPLETE or row.received_sha256 != row.sha256:
        raise ApiError(409, f"upload {upload_id} is {row.status}, not complete", upload_status=row.status)
    return CompletedUpload(sha256=row.sha256, size=row.length, filename=row.filename)
