"""The two custody events of an imported file: what the camera claims, then what the gateway saw.

``acquired`` is the camera's account, signed by the gateway that read it: the device, the file's name, the
camera's clock and its GNSS time as written, its file-name fields, and the camera's own fix as the place.
``imported`` is the gateway's account: where the file was read from, its size and modification time, the capture
time and place chosen (with their sources and the clock offset), and where the gateway itself was.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from device_gateway.media.timeplace import Capture
from evidence.custody import CustodyEvent, format_utc, new_event
from evidence.keys import SigningKey

if TYPE_CHECKING:
    from device_gateway.media.importer import Staged

_PLACE_FIELDS = ("lat", "lon", "alt", "accuracy_m", "source", "fix_age_s")
_CAMERA_PLACES = ("exif-gps", "device-gnss")


def media_events(
    *,
    item: Staged,
    key: SigningKey,
    capture: Capture,
    place: dict[str, Any] | None,
    visit: str | None,
    now: datetime,
    gateway_place: dict[str, Any] | None,
) -> list[CustodyEvent]:
    sha = item.blob.digest.sha256
    camera_place = place if place and place["source"] in _CAMERA_PLACES else None
    acquired = new_event(
        key=key,
        item_id=item.item_id,
        item_sha256=sha,
        action="acquired",
        at=capture.at or now,
        previous=None,
        device=item.facts.device,
        place=event_place(camera_place),
        details=camera_claims(item, capture),
    )
    imported = new_event(
        key=key,
        item_id=item.item_id,
        item_sha256=sha,
        action="imported",
        at=now,
        previous=acquired,
        device=key.name,
        place=event_place(gateway_place),
        details={
            "source_path": str(item.found.path),
            "size": item.blob.digest.size,
            "source_modified_at": format_utc(item.facts.modified_at),
            "media_type": item.metadata.media_type,
            "captured_at": capture.at.isoformat() if capture.at else None,
            "time_source": capture.source,
            "clock_offset_s": capture.clock_offset_s,
            "location": place,
            "visit": visit,
        },
    )
    return [acquired, imported]


def camera_claims(item: Staged, capture: Capture) -> dict[str, Any]:
    """What the camera itself says: its id, the file's name, its clock, its GNSS time, its file-name fields."""
    exif = item.facts.exif
    gnss = item.facts.gnss_time
    named = item.metadata.filename
    fields = None
    if named is not None:
        fields = {"pattern": named.pattern, "device": named.device, "officer": named.officer,
                  "sequence": named.sequence, "important": named.important}  # fmt: skip
    return {
        "name": item.found.path.name,
        "camera_time": capture.claimed,
        "gnss_time": gnss.isoformat() if gnss else None,
        "make": exif.make if exif else None,
        "model": exif.model if exif else None,
        "serial": exif.serial if exif else None,
        "file_name_fields": fields,
        "metadata_problems": [*metadata_errors(item), *(exif.problems if exif else ())],
    }


def metadata_errors(item: Staged) -> list[str]:
    """Why a file's metadata could not be read at all (the file is imported all the same)."""
    return [result.error for result in (item.metadata.exif, item.metadata.movie) if result is not None and result.error]


def event_place(position: dict[str, Any] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    return {k: position[k] for k in _PLACE_FIELDS if k in position}
