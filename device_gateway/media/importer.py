"""Importing media: every file copied and hashed in one read pass, given a time and a place, signed into custody.

For each file found (``scan``): the source is opened read-only and copied into the spool's content-addressed
store while it is hashed (``ContentStore.put_file``); a file that changed or vanished meanwhile is rejected with
that reason. Bytes already held are reported as a duplicate of the item holding them. Metadata is read from the
stored copy, never from the source again. When every file is in, each camera's clock offset is measured from its
files carrying both GNSS and camera time (``timeplace``); then each file gets its capture time and place, and
becomes an item with two custody events signed by the gateway's key: ``acquired`` (what the camera claims) and
``imported`` (the gateway's facts).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from device_gateway.gps import GnssTrack
from device_gateway.media.events import media_events, metadata_errors
from device_gateway.media.record import MediaItem, item_with_hash, record_item
from device_gateway.media.scan import Found, Refused, scan
from device_gateway.media.thumbnails import ThumbnailMaker
from device_gateway.media.timeplace import Capture, ClockOffset, FileFacts, capture_place, capture_time, clock_offsets
from device_gateway.spool import Spool
from device_gateway.spool.store import utc_text
from evidence.errors import SourceChangedError, StoreError
from evidence.hashing import StoredBlob
from evidence.keys import SigningKey
from evidence.metadata.filenames import FilenamePattern
from evidence.metadata.media import MediaMetadata, read_media_stream

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportOptions:
    device: str | None = None  # the camera's id when its files do not say (--device)
    visit: str | None = None
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))  # the cameras' clock zone (--tz)
    geotag_copies: bool = False
    patterns: Sequence[FilenamePattern] | None = None
    drift_threshold_s: float = 60.0


@dataclass
class FileResult:
    """One line of ``import-media --json``."""

    path: str
    status: str  # imported, duplicate, rejected
    reason: str | None = None
    sha256: str | None = None
    size: int | None = None
    kind: str | None = None
    media_type: str | None = None
    captured_at: str | None = None
    time_source: str | None = None
    clock_offset_s: float | None = None
    location: dict[str, Any] | None = None
    device: str | None = None
    item_id: str | None = None
    flags: list[str] = field(default_factory=list)
    derived_from: str | None = None

    def to_json(self) -> dict[str, Any]:
        fields = (
            "path",
            "status",
            "reason",
            "sha256",
            "size",
            "kind",
            "media_type",
            "captured_at",
            "time_source",
            "clock_offset_s",
            "location",
            "device",
            "item_id",
            "flags",
        )
        return {name: getattr(self, name) for name in fields}


@dataclass
class Staged:
    """A file copied into the store, waiting for its capture time (which needs every file's offsets first)."""

    found: Found
    blob: StoredBlob
    metadata: MediaMetadata
    facts: FileFacts
    item_id: str  # the item this file becomes, or the one already holding its bytes
    duplicate_of: str | None


@dataclass
class ImportReport:
    results: list[FileResult]
    offsets: dict[str, ClockOffset]
    gaps: dict[str, list[tuple[int, int]]]
    staged: list[Staged] = field(default_factory=list)


def import_media(
    paths: Sequence[Path],
    *,
    spool: Spool,
    key: SigningKey,
    options: ImportOptions,
    track: GnssTrack | None,
    progress: Progress | None = None,
    on_file: Callable[[], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportReport:
    """Import every media file under ``paths`` (see the module docstring); one result per file found."""
    run = _Import(
        spool=spool,
        key=key,
        options=options,
        track=track,
        now=now,
        thumbnails=ThumbnailMaker(spool.root / "thumbnails"),
    )
    results: list[FileResult] = []
    staged: list[Staged] = []
    for entry in scan(paths, exclude=spool.root):
        outcome: Staged | FileResult
        if isinstance(entry, Refused):
            outcome = FileResult(str(entry.path), "rejected", entry.reason)
        else:
            outcome = run.stage(entry, progress)
            if on_file is not None:
                on_file()
        if isinstance(outcome, FileResult):
            results.append(outcome)
        else:
            staged.append(outcome)
    offsets = clock_offsets([s.facts for s in staged], drift_threshold_s=options.drift_threshold_s)
    results += [run.finish(item, offsets.get(item.facts.device)) for item in staged]
    run.thumbnails.close()
    return ImportReport(results, offsets, sequence_gaps(staged), staged)


@dataclass
class _Import:
    """One import's context: where items go, who signs, what the gateway's track knows."""

    spool: Spool
    key: SigningKey
    options: ImportOptions
    track: GnssTrack | None
    now: Callable[[], datetime]
    thumbnails: ThumbnailMaker
    seen: dict[str, str] = field(default_factory=dict)  # sha256 -> item id, for identical files in this import

    def stage(self, found: Found, progress: Progress | None) -> Staged | FileResult:
        """Copy and hash the file into the store, and read its metadata from the copy."""
        try:
            blob = self.spool.blobs.put_file(found.path, progress=progress)
        except SourceChangedError as exc:
            return FileResult(str(found.path), "rejected", f"changed or vanished during import: {exc}")
        except (StoreError, OSError) as exc:
            return FileResult(str(found.path), "rejected", f"cannot be read: {exc}")
        sha = blob.digest.sha256
        duplicate_of = self.seen.get(sha) or item_with_hash(self.spool.connection, sha)
        item_id = duplicate_of or self.seen.setdefault(sha, str(uuid.uuid4()))
        with open(blob.path, "rb") as stored:  # the stored copy, under the name the file had on the camera
            metadata = read_media_stream(stored, found.path.name, patterns=self.options.patterns)
        facts = _facts(found, metadata, self.options)
        if duplicate_of is None and metadata.kind == "photo":
            self.thumbnails.submit(blob.path, item_id)  # made while the next files are copied
        return Staged(found, blob, metadata, facts, item_id, duplicate_of)

    def finish(self, item: Staged, offset: ClockOffset | None) -> FileResult:
        """Give the file its time and place; record it as an item unless its bytes are held already."""
        capture = capture_time(item.facts, offset)
        place = capture_place(item.facts, capture, self.track)
        result = _result(item, capture, place, offset)
        if item.duplicate_of is not None:
            result.status, result.item_id = "duplicate", item.duplicate_of
            result.reason = f"the same bytes are item {item.duplicate_of}"
            return result
        now = self.now()
        gateway_here = self.track.position_at(now) if self.track is not None else None
        events = media_events(
            item=item,
            key=self.key,
            capture=capture,
            place=place,
            visit=self.options.visit,
            now=now,
            gateway_place=gateway_here.to_json() if gateway_here else None,
        )
        record_item(
            self.spool,
            _media_item(item, capture, place, self.options),
            events,
            now=now,
            source=(str(item.found.path), item.found.size, utc_text(item.facts.modified_at)),
        )
        result.item_id = item.item_id
        return result


def _facts(found: Found, metadata: MediaMetadata, options: ImportOptions) -> FileFacts:
    exif = metadata.exif.info if metadata.exif else None
    movie = metadata.movie.info if metadata.movie else None
    return FileFacts(
        name=found.path.name,
        device=_device_of(metadata, options),
        zone=options.zone,
        modified_at=datetime.fromtimestamp(found.modified_ns / 1e9, UTC),
        exif=exif,
        movie=movie,
        filename=metadata.filename,
    )


def _device_of(metadata: MediaMetadata, options: ImportOptions) -> str:
    """The camera's id: as given (--device), else from its file name, its EXIF serial, or make and model."""
    if options.device:
        return options.device
    if metadata.filename and metadata.filename.device:
        return metadata.filename.device
    exif = metadata.exif.info if metadata.exif else None
    if exif and exif.serial:
        return f"{exif.make or 'camera'} {exif.serial}".strip()
    if exif and (exif.make or exif.model):
        return " ".join(part for part in (exif.make, exif.model) if part)
    return "unknown-camera"


def _result(item: Staged, capture: Capture, place: dict[str, Any] | None, offset: ClockOffset | None) -> FileResult:
    flags = [f"metadata-unreadable: {problem}" for problem in metadata_errors(item)]
    if offset is not None and offset.drifting:
        flags.append(f"clock-drift: camera clock {offset.offset_s:+.0f} s from GNSS time")
    if item.metadata.filename and item.metadata.filename.important:
        flags.append("important-file")
    return FileResult(
        path=str(item.found.path),
        status="imported",
        sha256=item.blob.digest.sha256,
        size=item.blob.digest.size,
        kind=item.metadata.kind,
        media_type=item.metadata.media_type,
        captured_at=capture.at.isoformat() if capture.at else None,
        time_source=capture.source,
        clock_offset_s=capture.clock_offset_s,
        location=place,
        device=item.facts.device,
        flags=flags,
    )


def _media_item(item: Staged, capture: Capture, place: dict[str, Any] | None, options: ImportOptions) -> MediaItem:
    metadata = {
        "captured_at": capture.at.isoformat() if capture.at else None,
        "time_source": capture.source,
        "clock_offset_s": capture.clock_offset_s,
        "location": place,
        "original_name": item.found.path.name,
        "source_path": str(item.found.path),
    }
    digest = item.blob.digest
    return MediaItem(
        item.item_id,
        item.metadata.kind,
        digest.sha256,
        digest.size,
        item.metadata.media_type,
        item.found.path.name,
        item.facts.device,
        options.visit,
        metadata,
    )


def sequence_gaps(staged: Sequence[Staged]) -> dict[str, list[tuple[int, int]]]:
    """Per device, the ranges of file sequence numbers missing between its first and last file."""
    numbers: dict[str, set[int]] = {}
    for item in staged:
        named = item.metadata.filename
        if named is not None and named.sequence is not None:
            numbers.setdefault(item.facts.device, set()).add(named.sequence)
    return {device: gaps for device, seen in numbers.items() if (gaps := _missing_ranges(sorted(seen)))}


def _missing_ranges(numbers: list[int]) -> list[tuple[int, int]]:
    return [(a + 1, b - 1) for a, b in itertools.pairwise(numbers) if b - a > 1]
