"""A Modbus RTU bus as a listen source: poll its units in turn, keep each response frame as evidence.

Each unit's response frames (exactly as received, see ``transports.modbus``) become one spool frame per poll.
Modbus responses carry no time or counter, so identical bytes from two polls are two observations: the poll
instant tells them apart. A unit that does not answer costs one timeout and leaves no frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from device_gateway.errors import ConfigError
from device_gateway.protocols.modbus import load_map
from device_gateway.sources import SourceSpec
from device_gateway.spool import FrameRecord
from device_gateway.spool.store import utc_text
from device_gateway.transports.modbus import ModbusPoller, PollResult, UnitConfig

Submit = Callable[[FrameRecord, Callable[[], None] | None], None]
log = logging.getLogger(__name__)


class ModbusRunner:
    def __init__(self, spec: SourceSpec, *, submit: Submit, visit: str | None) -> None:
        self.label = spec.label
        self.spec = spec
        self.submit = submit
        self.visit = visit
        register_map = load_map(spec.params["map"])
        timeout = spec.number("timeout", 1.0)
        self.units = [UnitConfig(unit, register_map, timeout) for unit in _unit_ids(spec)]
        self.devices = _device_names(spec, [u.unit_id for u in self.units], register_map.name)
        self.timeouts = 0

    def run(self, stop: threading.Event) -> None:
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # it logs every timeout as an error; we count them
        poller = ModbusPoller(
            self.spec.target,
            baudrate=int(self.spec.number("baud", 9600)),
            units=self.units,
            parity=self.spec.params.get("parity", "N"),
            stopbits=int(self.spec.number("stopbits", 1)),
        )
        try:
            poller.run(self._on_result, interval_s=self.spec.number("interval", 10.0), stop=stop)
        finally:
            poller.close()

    def finish(self) -> None:
        """Nothing to close after the last commit: the poller closed its port when it stopped."""

    def _on_result(self, result: PollResult) -> None:
        if not result.raw:
            self.timeouts += 1
            return
        record = FrameRecord(
            device=self.devices[result.unit_id],
            source=self.label,
            protocol="modbus",
            raw=result.raw,
            received_at=result.at,
            readings=result.readings,
            error=result.error,
            visit=self.visit,
            distinct_by=utc_text(result.at),
        )
        self.submit(record, None)


def _unit_ids(spec: SourceSpec) -> list[int]:
    try:
        return [int(part) for part in spec.params["unit"].split(",") if part]
    except ValueError as exc:
        raise ConfigError(f"{spec.label}: unit must be a number or a comma-separated list of numbers") from exc


def _device_names(spec: SourceSpec, units: list[int], map_name: str) -> dict[int, str]:
    given = [name for name in spec.params.get("device", "").split(",") if name]
    if given and len(given) != len(units):
        raise ConfigError(f"{spec.label}: give one device name per unit ({len(units)}), comma-separated")
    return dict(zip(units, given or [f"{map_name}-unit{unit}" for unit in units], strict=True))
