"""What sources hand to the spool, and what storing it did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from device_gateway.gps import Fix
from evidence.readings import Reading
from evidence.standards import Exceedance

Warn = Callable[[str, Reading], list[Exceedance]]  # (device, new reading) -> the limits it exceeds


@dataclass(frozen=True)
class FrameRecord:
    """One frame as a source received it, with what was derived from it."""

    device: str
    source: str
    protocol: str
    raw: bytes
    received_at: datetime
    measured_at: datetime | None = None  # device time resolved to an instant; None: use received_at
    device_time: str | None = None  # as the device sent it
    readings: tuple[Reading, ...] = ()
    fix: Fix | None = None
    device_position: tuple[float, float, float | None] | None = None
    error: str | None = None
    visit: str | None = None
    # Identical bytes from a device are one frame sent twice, unless the protocol carries no time or counter
    # (a Modbus response to the same registers): then each poll is its own observation, told apart by this.
    distinct_by: str = ""


@dataclass(frozen=True)
class StoredFrame:
    """What storing one FrameRecord did: its row (None if a duplicate) and the readings that were new."""

    record: FrameRecord
    frame_id: int | None
    new_readings: tuple[tuple[int, Reading], ...] = field(default=())
    exceedances: tuple[tuple[Reading, Exceedance], ...] = field(default=())

    @property
    def duplicate(self) -> bool:
        return self.frame_id is None
