"""A simulated Modbus RTU instrument bus: pymodbus's serial server speaking RTU framing over ``socket://``.

:class:`ModbusInstrument` serves one or more unit ids, each with a :class:`RegisterMap`; the registers hold the
words a real device would send for the engineering values set with :meth:`ModbusInstrument.set_value` (encoded
with :func:`encode_register`, so every type, byte order and word order of the map is exercised). Unit ids that
are not served stay silent, as on a real RS-485 bus, and :meth:`ModbusInstrument.set_fault` makes a served unit
go silent or answer with a corrupted CRC. Requests outside the map's register span get exception code 2.

pymodbus 3.16 specifics: the server is built from ``SimDevice``/``SimData`` (``ModbusServerContext`` is
deprecated); an ``action`` coroutine copies this object's words into the server's registers on every read; and
unknown unit ids are answered by a catch-all device 0 whose replies are dropped in ``trace_packet``, because
``ignore_missing_devices`` has no effect with ``SimDevice`` (an unknown id would get exception 4 instead).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from functools import partial
from types import TracebackType

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from device_gateway.errors import ConfigError
from device_gateway.protocols.modbus import FUNCTIONS, RegisterMap, encode_register

__all__ = ["FAULTS", "ModbusInstrument", "encode_register"]

FAULTS = frozenset({"silent", "bad-crc"})
_START_TIMEOUT_S = 10.0


class ModbusInstrument:
    """Serves ``units`` (unit id -> register map) with settable engineering values; runs in a background thread."""

    def __init__(
        self, *, units: Mapping[int, RegisterMap], values: Mapping[int, Mapping[str, float]] | None = None
    ) -> None:
        if not units or any(not 1 <= unit_id <= 247 for unit_id in units):
            raise ConfigError(f"a Modbus instrument needs unit ids from 1 to 247, not {sorted(units)}")
        self._maps = dict(units)
        self._lock = threading.Lock()
        self._words: dict[tuple[int, str, int], int] = {}
        self._faults: dict[int, str] = {}
        self.requests: list[tuple[int, int, int, int]] = []  # (unit id, function code, address, count) seen
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusSerialServer | None = None
        self._port = 0
        self._error: BaseException | None = None
        for unit_id, register_map in self._maps.items():
            given = (values or {}).get(unit_id, {})
            for register in register_map.registers:
                self.set_value(unit_id, register.name, given.get(register.name, register.sample))

    def set_value(self, unit_id: int, register_name: str, value: float) -> None:
        """Make unit ``unit_id`` report ``value`` (engineering units) for the named register from now on."""
        register = self._map(unit_id).register(register_name)
        words = encode_register(register, value)
        with self._lock:
            for index, word in enumerate(words):
                self._words[(unit_id, register.function, register.address + index)] = word

    def set_fault(self, unit_id: int, fault: str | None) -> None:
        """Make a served unit misbehave: ``"silent"`` (never answers), ``"bad-crc"``, or None (healthy)."""
        self._map(unit_id)
        if fault is not None and fault not in FAULTS:
            raise ConfigError(f"unknown fault {fault!r}; known: {', '.join(sorted(FAULTS))}")
        with self._lock:
            if fault is None:
                self._faults.pop(unit_id, None)
            else:
                self._faults[unit_id] = fault

    def start_socket(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on TCP ``host:port`` (0 = any free port) with RTU framing; returns the ``socket://`` URL."""
        if self._thread is not None:
            raise ConfigError("this Modbus instrument is already running")
        ready, self._error = threading.Event(), None
        self._thread = threading.Thread(
            target=self._serve, args=(f"socket://{host}:{port}", ready), name="modbus-instrument", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_S) or self._error is not None:
            self.stop()
            raise ConfigError(f"the simulated Modbus instrument could not listen on {host}:{port}: {self._error}")
        return f"socket://{host}:{self._port}"

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        loop, server, thread = self._loop, self._server, self._thread
        if loop is not None and server is not None and loop.is_running():
            shutdown = server.shutdown()  # type: ignore[no-untyped-call, unused-ignore]
            asyncio.run_coroutine_threadsafe(shutdown, loop).result(_START_TIMEOUT_S)
        if thread is not None:
            thread.join(_START_TIMEOUT_S)
        self._thread = self._loop = self._server = None

    def __enter__(self) -> ModbusInstrument:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # --- the server side -----------------------------------------------------------------------------------

    def _map(self, unit_id: int) -> RegisterMap:
        if unit_id not in self._maps:
            raise ConfigError(f"unit {unit_id} is not served by this instrument (serving {sorted(self._maps)})")
        return self._maps[unit_id]

    def _serve(self, url: str, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(url, ready))
        finally:
            loop.close()

    async def _main(self, url: str, ready: threading.Event) -> None:
        try:
            server = ModbusSerialServer(
                self._devices(), framer=FramerType.RTU, port=url, trace_packet=self._trace, trace_pdu=self._record
            )
            await server.serve_forever(background=True)
            self._port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        except Exception as exc:  # reported to start_socket's caller
            self._error = exc
            ready.set()
            return
        self._server = server
        ready.set()
        await server.serving

    def _devices(self) -> list[SimDevice]:
        devices = [SimDevice(id=0, simdata=self._blocks(None))]  # catch-all: its replies are dropped
        for unit_id, register_map in self._maps.items():
            devices.append(
                SimDevice(id=unit_id, simdata=self._blocks(register_map), action=partial(self._action, unit_id))
            )
        return devices

    @staticmethod
    def _blocks(register_map: RegisterMap | None) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        """(coils, discrete inputs, holding, input): one block per function spanning the map's registers."""
        blocks = []
        for function in FUNCTIONS:
            registers = [r for r in register_map.registers if r.function == function] if register_map else []
            if not registers:
                blocks.append([SimData(0, datatype=DataType.INVALID)])
                continue
            start = min(r.address for r in registers)
            span = max(r.end for r in registers) - start
            blocks.append([SimData(start, count=span, values=0, datatype=DataType.REGISTERS)])
        bits = [SimData(0, values=0, datatype=DataType.BITS)], [SimData(0, values=0, datatype=DataType.BITS)]
        return bits[0], bits[1], blocks[0], blocks[1]

    async def _action(  # noqa: PLR0917 - the signature pymodbus's SimAction calls
        self,
        unit_id: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Copy the current words into the server's registers before it answers a read; refuse writes."""
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        function = "holding" if function_code == FUNCTIONS["holding"] else "input"
        with self._lock:
            for offset in range(address, address + count):
                registers[offset - start_address] = self._words.get((unit_id, function, offset), 0)
        return None

    def _record(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:  # every request on the bus, served or not
            with self._lock:
                self.requests.append((pdu.dev_id, pdu.function_code, pdu.address, pdu.count))
        return pdu

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """Outgoing frames: drop those of unknown or silent units, corrupt the CRC of bad-crc units."""
        if not sending or not data:
            return data
        with self._lock:
            fault = self._faults.get(data[0]) if data[0] in self._maps else "silent"
        if fault == "silent":
            return b""
        if fault == "bad-crc":
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data
