"""Seal files into a court package: one item per file, signed custody events, a log and a signed checkpoint.

Evidence officers use this for documents received from elsewhere. Each file is copied into the package and
hashed in the same read pass; then each item gets two events signed by the sealing key: ``acquired`` (what the
file was: name, size, modification time, where it was read from) and ``sealed`` (this package's id and item
count). The events form a log of their own whose checkpoint the same key signs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evidence.checkpoint import Checkpoint, SignedNote, sign_checkpoint
from evidence.custody import CustodyEvent, format_utc, new_event
from evidence.errors import InputError
from evidence.keys import SigningKey
from evidence.mediatypes import kind_for, sniff_file
from evidence.merkle import MerkleLog
from evidence.package import SEAL_ORIGIN_PREFIX, ItemRecord, PackageWriter, ProofRecord
from evidence.report import render_report

__all__ = ["SealResult", "seal_files"]


@dataclass(frozen=True)
class SealResult:
    path: Path
    package_id: str
    items: tuple[ItemRecord, ...]
    events: int
    checkpoint: SignedNote


def seal_files(
    files: Sequence[Path],
    *,
    key: SigningKey,
    out: Path,
    user: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[int], None] | None = None,
) -> SealResult:
    """Seal ``files`` into the new package ``out`` (a directory, or a zip if it ends in .zip)."""
    sources = _check_sources(files)
    package_id = str(uuid.uuid4())
    writer = PackageWriter(out, package_id)
    try:
        items = [_copy_item(writer, source, progress) for source in sources]
        events = _custody_events(items, sources, key=key, user=user, package_id=package_id, clock=clock)
        log = MerkleLog()
        log.append_many(event.to_bytes() for event in events)
        note = sign_checkpoint(Checkpoint(f"{SEAL_ORIGIN_PREFIX}{package_id}", log.size, log.root()), key)
        proofs = [ProofRecord(i, log.size, tuple(log.inclusion_proof(i))) for i in range(log.size)]
        report = render_report(package_id=package_id, items=items, events=events, checkpoint=note, keys=[key.public])
        path = writer.finish(
            items=items,
            events=events,
            proofs=proofs,
            checkpoint=note,
            keys=[key.public],
            report_html=report,
            description="fieldproof 电子证据封存包 court evidence package",
        )
    except BaseException:
        writer.abort()
        raise
    return SealResult(path, package_id, tuple(items), len(events), note)


def _check_sources(files: Sequence[Path]) -> list[Path]:
    if not files:
        raise InputError("no files to seal")
    sources = [f.resolve() for f in files]
    for given, source in zip(files, sources, strict=True):
        if not source.is_file():
            raise InputError(f"{given} is not a readable regular file")
    if len(set(sources)) != len(sources):
        raise InputError("the same file is named twice")
    return sources


def _copy_item(writer: PackageWriter, source: Path, progress: Callable[[int], None] | None) -> ItemRecord:
    item_id = str(uuid.uuid4())
    relative = writer.add_file(item_id, source.name, source, progress)
    digest = writer.payload_digest(relative)
    media_type = sniff_file(writer.staging / relative)
    return ItemRecord(item_id, relative, digest.sha256, digest.size, source.name, media_type, kind_for(media_type))


def _custody_events(
    items: Sequence[ItemRecord],
    sources: Sequence[Path],
    *,
    key: SigningKey,
    user: str,
    package_id: str,
    clock: Callable[[], datetime],
) -> list[CustodyEvent]:
    events: list[CustodyEvent] = []
    for item, source in zip(items, sources, strict=True):
        modified = datetime.fromtimestamp(source.stat().st_mtime, UTC)
        acquired = new_event(
            key=key,
            item_id=item.item_id,
            item_sha256=item.sha256,
            action="acquired",
            at=clock(),
            previous=None,
            user=user,
            details={
                "name": item.name,
                "size": item.size,
                "media_type": item.media_type,
                "source_path": str(source),
                "modified_at": format_utc(modified),
            },
        )
        sealed = new_event(
            key=key,
            item_id=item.item_id,
            item_sha256=item.sha256,
            action="sealed",
            at=clock(),
            previous=acquired,
            user=user,
            details={"package_id": package_id, "item_count": len(items), "path": item.path},
        )
        events += [acquired, sealed]
    return events
