"""When and where a photo, video or recording was taken, and how we know: pure rules over the file's metadata.

Time, best source first (``time_source``):

1. ``gnss``: GPS date and time written into EXIF by the camera's receiver (satellite time, UTC).
2. ``camera-clock-corrected``: the camera's own clock (EXIF DateTimeOriginal, a video's mvhd time, or the time in
   its file name) read in its zone, corrected by the camera's offset measured in this import (below).
3. ``camera-clock``: the same without a measured offset.
4. ``file-name``: the time in a body camera's or phone's file name, in the device's zone.
5. ``file-mtime``: the file's modification time.

The camera clock's zone is EXIF OffsetTimeOriginal when present, else the zone configured for the device
(``--tz``). Local time is never labelled UTC.

**Clock offset.** For every file that carries both GNSS time and camera time, offset = camera time (as an instant)
− GNSS time. The median over a device's files is that camera's offset, applied to its files without GNSS time.
An offset beyond ``drift_threshold_s`` is flagged: a camera minutes off is common, and a court should see it.

Place (``location.source``): the camera's own GNSS fix (``exif-gps`` from EXIF, ``device-gnss`` from a video's
location atom); else the gateway's GNSS track at the capture time (``gateway-gnss-track``, interpolated between
fixes, with the fix's age), only when the capture time itself is trustworthy (GNSS or a corrected clock); else no
place. A place is never invented.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from device_gateway.gps import GnssTrack
from evidence.metadata.exif import ExifInfo
from evidence.metadata.filenames import FilenameInfo
from evidence.metadata.isobmff import MovieInfo

DRIFT_THRESHOLD_S = 60.0
_TRUSTED_FOR_TRACK = ("gnss", "camera-clock-corrected")


@dataclass(frozen=True)
class FileFacts:
    """What one file says about itself, and what the gateway knows of it."""

    name: str
    device: str
    zone: tzinfo
    modified_at: datetime  # aware
    exif: ExifInfo | None = None
    movie: MovieInfo | None = None
    filename: FilenameInfo | None = None

    @property
    def gnss_time(self) -> datetime | None:
        """Satellite time from EXIF, also when the position beside it was unusable."""
        if self.exif is None:
            return None
        if self.exif.gps is not None and self.exif.gps.time_utc is not None:
            return self.exif.gps.time_utc
        return self.exif.gps_time_utc

    def camera_clock(self) -> tuple[datetime, str] | None:
        """The camera's own idea of the capture time, as an aware instant, and which field said so."""
        if self.exif and self.exif.camera_time is not None:
            zone: tzinfo = self.zone
            if self.exif.camera_offset is not None:
                zone = _fixed_zone(self.exif.camera_offset)
            return self.exif.camera_time.replace(tzinfo=zone), self.exif.camera_time_tag or "EXIF"
        if self.movie and self.movie.created_raw is not None:
            return self.movie.created_raw.replace(tzinfo=self.zone), "mvhd"
        return None

    def filename_time(self) -> datetime | None:
        """The time in the file's name: local in the device's zone, unless the naming scheme writes UTC."""
        if self.filename and self.filename.time is not None:
            return self.filename.time.replace(tzinfo=UTC if self.filename.time_utc else self.zone)
        return None


@dataclass(frozen=True)
class ClockOffset:
    device: str
    offset_s: float
    samples: int
    drifting: bool


@dataclass(frozen=True)
class Capture:
    at: datetime | None  # aware; shown in the camera's zone
    source: str | None
    clock_offset_s: float | None
    claimed: str | None  # what the camera itself said (its clock, as written), for the custody record


def clock_offsets(
    files: Sequence[FileFacts], *, drift_threshold_s: float = DRIFT_THRESHOLD_S
) -> dict[str, ClockOffset]:
    """Each device's camera-clock offset, from its files carrying both GNSS and camera time."""
    samples: dict[str, list[float]] = defaultdict(list)
    for facts in files:
        clock, gnss = facts.camera_clock(), facts.gnss_time
        if clock is not None and gnss is not None:
            samples[facts.device].append((clock[0] - gnss).total_seconds())
    offsets = {}
    for device, values in samples.items():
        median = statistics.median(values)
        offsets[device] = ClockOffset(device, median, len(values), abs(median) > drift_threshold_s)
    return offsets


def capture_time(facts: FileFacts, offset: ClockOffset | None) -> Capture:
    """The capture time from the best source available (see the module docstring)."""
    clock = facts.camera_clock()
    claimed = clock[0].isoformat() if clock else None
    gnss = facts.gnss_time
    if gnss is not None:
        measured = (clock[0] - gnss).total_seconds() if clock else None
        return Capture(gnss.astimezone(_display_zone(facts)), "gnss", measured, claimed)
    own_time = clock[0] if clock else facts.filename_time()
    if own_time is not None and offset is not None:
        corrected = own_time - timedelta(seconds=offset.offset_s)
        return Capture(corrected.astimezone(_display_zone(facts)), "camera-clock-corrected", offset.offset_s, claimed)
    if clock is not None:
        return Capture(clock[0], "camera-clock", None, claimed)
    named = facts.filename_time()
    if named is not None:
        return Capture(named, "file-name", None, claimed)
    return Capture(facts.modified_at.astimezone(facts.zone), "file-mtime", None, claimed)


def capture_place(facts: FileFacts, capture: Capture, track: GnssTrack | None) -> dict[str, Any] | None:
    """Where the file was taken: the camera's own fix, else the gateway's track at a trustworthy time, else None."""
    gps = facts.exif.gps if facts.exif else None
    if gps is not None:
        return _place(gps.lat, gps.lon, gps.alt, "exif-gps")
    if facts.movie is not None and facts.movie.location is not None:
        lat, lon, alt = facts.movie.location
        return _place(lat, lon, alt, "device-gnss")
    if track is None or capture.at is None or capture.source not in _TRUSTED_FOR_TRACK:
        return None
    position = track.position_at(capture.at.astimezone(UTC))
    return None if position is None else position.to_json()


def _place(lat: float, lon: float, alt: float | None, source: str) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "alt": alt, "accuracy_m": None, "source": source, "fix_age_s": 0.0}


def _display_zone(facts: FileFacts) -> tzinfo:
    if facts.exif is not None and facts.exif.camera_offset is not None:
        return _fixed_zone(facts.exif.camera_offset)
    return facts.zone


def _fixed_zone(offset: timedelta) -> tzinfo:
    return timezone(offset)
