"""From codec output to spool records: one place that knows how each protocol's frames become FrameRecords.

Every frame is kept, valid or not: a frame whose CRC or length is wrong is stored with its reason and no
readings (it is still what the device sent). Readings get their unit from the device's settings (or the
payload, for JSON), and their instant from the device's time read in the device's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device_gateway.config import DeviceSettings, GatewaySettings
from device_gateway.errors import Hj212Error, PayloadError
from device_gateway.gps import Fix, FixAssembler
from device_gateway.protocols import hj212, jsonline, nmea
from device_gateway.spool import FrameRecord
from evidence.readings import Reading

_DATA_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})?")


def hj212_device_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """HJ 212 DataTime (``YYYYMMDDhhmmss`` with optional milliseconds) is local time: read it in the device's zone."""
    match = _DATA_TIME.fullmatch(text or "")
    if match is None:
        return None
    year, month, day, hour, minute, second, millis = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), int(millis or 0) * 1000, tzinfo=zone
        )
    except ValueError:
        return None
    return moment


def with_units(readings: tuple[Reading, ...], settings: DeviceSettings) -> tuple[Reading, ...]:
    """Units from the device's settings; a unit the device stated itself is kept."""
    return tuple(r if r.unit else r.with_unit(settings.unit_for(r.code)) for r in readings)


@dataclass
class Hj212Adapter:
    """One HJ 212 byte stream (a serial line, a TCP connection, an MQTT payload) and what it yields."""

    source: str
    settings: GatewaySettings
    visit: str | None = None

    def __post_init__(self) -> None:
        self._decoder = hj212.StreamDecoder(crc_for=lambda mn: self.settings.device(mn).crc)
        self._reassembler = hj212.Reassembler()

    def feed(self, data: bytes, received_at: datetime) -> list[tuple[FrameRecord, hj212.Packet | None]]:
        return [self._record(item, received_at) for item in self._decoder.feed(data)]

    def flush(self, received_at: datetime) -> list[tuple[FrameRecord, hj212.Packet | None]]:
        return [self._record(item, received_at) for item in self._decoder.flush()]

    def _record(
        self, item: hj212.Packet | hj212.BadPacket, received_at: datetime
    ) -> tuple[FrameRecord, hj212.Packet | None]:
        if isinstance(item, hj212.BadPacket):
            error = f"{item.reason}: {item.message}"
            return self._frame(self._source_device(), item.raw, received_at, error=error), None
        device = item.mn or self._source_device()
        try:
            message = self._reassembler.add(item)
        except Hj212Error as exc:
            return self._frame(device, item.raw, received_at, error=f"{exc.reason}: {exc}"), item
        if message is None:  # one part of a split message; the readings come with the last part
            return self._frame(device, item.raw, received_at), item
        settings = self.settings.device(device)
        record = self._frame(
            device,
            item.raw,
            received_at,
            readings=with_units(message.readings, settings),
            device_time=message.data_time,
            measured_at=hj212_device_time(message.data_time, settings.timezone),
        )
        return record, item

    def _frame(self, device: str, raw: bytes, received_at: datetime, **extra: Any) -> FrameRecord:
        return FrameRecord(device, self.source, "hj212", raw, received_at, visit=self.visit, **extra)

    def _source_device(self) -> str:
        # A frame that fails its checks has no trustworthy MN: it belongs to the line it came in on.
        return f"unverified@{self.source.split('?', 1)[0]}"


@dataclass
class NmeaAdapter:
    """One NMEA 0183 byte stream from a GNSS receiver; valid fixes go to the track."""

    source: str
    device: str
    fix_source: str = "gateway-gnss-track"
    visit: str | None = None

    def __post_init__(self) -> None:
        self._decoder = nmea.NmeaStreamDecoder()
        self._assembler = FixAssembler(source=self.fix_source)
        self._held_fix: Fix | None = None

    def feed(self, data: bytes, received_at: datetime) -> list[FrameRecord]:
        return [self._record(item, received_at) for item in self._decoder.feed_all(data)]

    def flush(self, received_at: datetime) -> list[FrameRecord]:
        records = [self._record(item, received_at) for item in self._decoder.flush_all()]
        last_fix = self._assembler.flush()  # an epoch still waiting for its other sentence
        if last_fix is not None and records:
            records[-1] = replace(records[-1], fix=last_fix)
        elif last_fix is not None:
            self._held_fix = last_fix
        return records

    def _record(self, item: nmea.Item, received_at: datetime) -> FrameRecord:
        """Every sentence is kept (types we do not use too: they are what the receiver sent)."""
        if isinstance(item, nmea.BadSentence):
            return FrameRecord(
                self.device,
                self.source,
                "nmea",
                item.raw,
                received_at,
                visit=self.visit,
                error=f"{item.reason}: {item.message}",
            )
        fix = self._assembler.add(item, received_at=received_at) if isinstance(item, nmea.Sentence) else None
        if fix is None and self._held_fix is not None:
            fix, self._held_fix = self._held_fix, None
        return FrameRecord(self.device, self.source, "nmea", item.raw, received_at, fix=fix, visit=self.visit)


def mqtt_payload_records(
    payload: bytes, *, source: str, settings: GatewaySettings, received_at: datetime, visit: str | None
) -> list[FrameRecord]:
    """An MQTT message: HJ 212 frame(s) if it starts with ``##``, else a JSON readings message."""
    if payload.lstrip()[:2] == b"##":
        adapter = Hj212Adapter(source, settings, visit=visit)
        pairs = adapter.feed(payload, received_at) + adapter.flush(received_at)
        return [record for record, _packet in pairs] or [_bad_payload(payload, source, received_at, visit, "empty")]
    try:
        message = jsonline.parse_payload(payload)
    except PayloadError as exc:
        return [_bad_payload(payload, source, received_at, visit, f"{exc.reason}: {exc}")]
    device_settings = settings.device(message.device)
    return [
        FrameRecord(
            message.device,
            source,
            "json",
            payload,
            received_at,
            measured_at=message.time,
            device_time=message.time_text,
            readings=with_units(message.readings, device_settings),
            device_position=message.position,
            visit=visit,
        )
    ]


def _bad_payload(payload: bytes, source: str, received_at: datetime, visit: str | None, error: str) -> FrameRecord:
    return FrameRecord(f"unverified@{source}", source, "json", payload, received_at, error=error, visit=visit)
