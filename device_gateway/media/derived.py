"""What an import makes besides items: geotagged copies (evidence, linked to their originals) and notes on the
visit (gaps in a camera's file numbers, a camera clock off from GNSS time). Thumbnails: see ``thumbnails``.

A geotagged copy is made only for a JPEG whose own EXIF has no GPS but whose place the gateway's GNSS track gave:
the copy carries that position (and the capture time, when it is GNSS time or a corrected camera clock) in its
EXIF. Only the EXIF segment differs from the original; the image data bytes are identical. The copy is a new item
whose chain starts with a ``derived`` event naming the original; the original's chain gets a ``derived`` event
naming the copy. The original is never touched.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from device_gateway.media.importer import FileResult, ImportOptions, ImportReport, Staged
from device_gateway.media.record import MediaItem, last_event, note_visit, record_item
from device_gateway.spool import Spool
from evidence.custody import new_event
from evidence.errors import FieldproofError
from evidence.hashing import Digest
from evidence.keys import SigningKey
from evidence.metadata.exif import geotag_jpeg

log = logging.getLogger(__name__)

GEOTAG_HOW = "position (and GNSS-based time) written into EXIF with piexif.insert; image data unchanged"


def after_import(
    report: ImportReport, *, spool: Spool, key: SigningKey, options: ImportOptions, now: datetime
) -> list[FileResult]:
    """Notes, thumbnails and (if asked) geotagged copies for an import; return the copies' results."""
    _note_visit(report, spool, options, now)
    imported = {r.item_id: r for r in report.results if r.status == "imported" and r.item_id}
    if not options.geotag_copies:
        return []
    copies = [
        _geotag(item, imported[item.item_id], spool=spool, key=key, options=options, now=now)
        for item in report.staged
        if item.item_id in imported and _wants_geotag(imported[item.item_id])
    ]
    return [copy for copy in copies if copy is not None]


def _note_visit(report: ImportReport, spool: Spool, options: ImportOptions, now: datetime) -> None:
    for device, gaps in report.gaps.items():
        detail: dict[str, Any] = {"missing": [list(gap) for gap in gaps]}
        note_visit(spool, visit=options.visit, device=device, kind="sequence-gap", detail=detail, now=now)
    for device, offset in report.offsets.items():
        if offset.drifting:
            detail = {"offset_s": round(offset.offset_s, 3), "samples": offset.samples}
            note_visit(spool, visit=options.visit, device=device, kind="clock-drift", detail=detail, now=now)


def _wants_geotag(result: FileResult) -> bool:
    location = result.location
    return result.media_type == "image/jpeg" and location is not None and location["source"] == "gateway-gnss-track"


def _geotag(
    item: Staged, original: FileResult, *, spool: Spool, key: SigningKey, options: ImportOptions, now: datetime
) -> FileResult | None:
    location = original.location
    assert location is not None
    assert original.item_id is not None
    assert original.captured_at is not None
    trusted_time = original.time_source in ("gnss", "camera-clock-corrected")
    moment = datetime.fromisoformat(original.captured_at) if trusted_time else None
    try:
        data = geotag_jpeg(
            item.blob.path.read_bytes(),
            lat=location["lat"],
            lon=location["lon"],
            alt=location.get("alt"),
            time_utc=moment,
        )
    except (FieldproofError, OSError) as exc:
        log.warning("no geotagged copy of %s: %s", item.found.path.name, exc)
        return None
    blob = spool.blobs.put_bytes(data)
    copy_id = str(uuid.uuid4())
    name = f"{item.found.path.stem}_geotagged{item.found.path.suffix}"
    _record_copy(spool=spool, key=key, options=options, now=now, original=original, copy=(copy_id, name, blob.digest))
    return FileResult(
        path=name,
        status="imported",
        sha256=blob.digest.sha256,
        size=blob.digest.size,
        kind="photo",
        media_type="image/jpeg",
        captured_at=original.captured_at,
        time_source=original.time_source,
        clock_offset_s=original.clock_offset_s,
        location=location,
        device=original.device,
        item_id=copy_id,
        flags=[f"derived-from: {original.item_id}"],
        derived_from=original.item_id,
    )


def _record_copy(
    *,
    spool: Spool,
    key: SigningKey,
    options: ImportOptions,
    now: datetime,
    original: FileResult,
    copy: tuple[str, str, Digest],
) -> None:
    assert original.item_id is not None
    assert original.sha256 is not None
    copy_id, name, digest = copy
    sha256, size = digest.sha256, digest.size
    details: dict[str, Any] = {
        "derived_from": original.item_id,
        "original_sha256": original.sha256,
        "how": GEOTAG_HOW,
        "location": original.location,
    }
    place_keys = ("lat", "lon", "alt", "accuracy_m", "source", "fix_age_s")
    place: dict[str, Any] = {k: v for k, v in (original.location or {}).items() if k in place_keys}
    copy_event = new_event(
        key=key,
        item_id=copy_id,
        item_sha256=sha256,
        action="derived",
        at=now,
        previous=None,
        device=key.name,
        place=place or None,
        details=details,
    )
    previous = last_event(spool.connection, original.item_id)
    original_event = new_event(
        key=key,
        item_id=original.item_id,
        item_sha256=original.sha256,
        action="derived",
        at=now,
        previous=previous,
        device=key.name,
        details={"derivative": copy_id, "derivative_sha256": sha256, "how": GEOTAG_HOW},
    )
    metadata = {
        "derived_from": original.item_id,
        "how": GEOTAG_HOW,
        "captured_at": original.captured_at,
        "time_source": original.time_source,
        "location": original.location,
    }
    item = MediaItem(
        copy_id, "photo", sha256, size, "image/jpeg", name, original.device or key.name, options.visit, metadata
    )
    record_item(
        spool, item, [copy_event], now=now, derived_from=(original.item_id, GEOTAG_HOW), original_event=original_event
    )
