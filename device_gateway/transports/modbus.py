"""Modbus RTU poller: one bus (a serial port or ``socket://`` URL), its units polled strictly in sequence.

Each unit is read with the requests of :func:`read_plan` over pymodbus's synchronous RTU client. A unit's
timeout bounds each of its requests, and the first request that gets no answer ends the unit's turn, so a dead
unit costs one timeout per poll and the next unit is polled right after. Retries are off (``retries=0``): a
retry would double what a dead unit costs, and the next poll comes soon enough.

Evidence: ``PollResult.raw`` holds the unit's response frames (RTU ADUs) exactly as received, captured with
pymodbus's ``trace_packet`` hook and concatenated in plan order (see :func:`split_frames`); the readings are
decoded from those bytes, not from pymodbus's parsed response, and cross-checked against it. Bytes that came
back but formed no valid response (a bad CRC, a torn frame) are kept apart in ``PollResult.rejected``.

pymodbus 3.16 specifics handled here: the client's timeout lives in two copies of its ``CommParams`` (the
client's, used while waiting for bytes, and the transaction manager's, used as the response deadline), both set
per unit; over ``socket://`` pyserial's ``in_waiting`` reports at most 1, so responses arrive byte by byte with a
sleep of ``max(40 bit times, 1 ms)`` each: pick a high ``baudrate`` there (it means nothing on a socket).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from device_gateway.errors import ConfigError, ModbusError
from device_gateway.protocols.modbus import FUNCTIONS, RegisterMap, find_response_frame, parse_response, read_plan
from device_gateway.protocols.modbus import decode as decode_blocks
from evidence.readings import Reading

_READ_CODES = {bytes([code | flag]) for code in FUNCTIONS.values() for flag in (0, 0x80)}  # 2nd byte of answers


@dataclass(frozen=True)
class UnitConfig:
    """One instrument on the bus: its unit id (1-247), its register map and how long to wait for it."""

    unit_id: int
    register_map: RegisterMap
    timeout_s: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.unit_id <= 247:
            raise ConfigError(f"Modbus unit id must be 1-247, not {self.unit_id}")
        if not self.timeout_s > 0:
            raise ConfigError(f"unit {self.unit_id}: timeout_s must be positive, not {self.timeout_s}")


@dataclass(frozen=True)
class PollResult:
    """One unit's turn in one poll.

    ``at`` is the gateway clock (aware, UTC) when the unit's last response arrived or its timeout expired.
    ``raw`` is the evidence: the valid response ADUs received, in plan order (an exception response is one).
    ``readings`` is empty unless every planned read succeeded; ``error`` is None, ``"timeout"``,
    ``"exception code N"``, ``"crc"``, ``"invalid response"``, ``"frame mismatch"`` or ``"connection: ..."``.
    """

    unit_id: int
    at: datetime
    readings: tuple[Reading, ...]
    raw: bytes
    error: str | None
    rejected: bytes = b""


@dataclass(frozen=True)
class _Answer:
    frame: bytes = b""
    words: tuple[int, ...] = ()
    error: str | None = None
    rejected: bytes = b""


class ModbusPoller:
    """Polls ``units`` on the bus at ``url`` (``/dev/ttyUSB0``, ``socket://host:port``, a pty path)."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        units: Sequence[UnitConfig],
        parity: str = "N",
        stopbits: int = 1,
    ) -> None:
        _check_bus(url, units, parity, stopbits)
        self.units = tuple(units)
        self._bus_lock = threading.Lock()
        self._received = b""
        self._client = ModbusSerialClient(
            url,
            framer=FramerType.RTU,
            baudrate=baudrate,
            parity=parity,
            stopbits=stopbits,
            timeout=max(unit.timeout_s for unit in units),
            retries=0,
            trace_packet=self._trace,
        )

    def poll_once(self) -> list[PollResult]:
        """Poll every unit once, in order; a dead unit costs its own timeout, then the next unit is polled."""
        return list(self._poll())

    def run(self, on_result: Callable[[PollResult], None], *, interval_s: float, stop: threading.Event) -> None:
        """Poll every ``interval_s`` until ``stop`` is set, handing each result over as soon as it exists.

        ``stop`` is checked between units, so stopping takes at most one unit's turn. An exception raised by
        ``on_result`` (e.g. the spool cannot store) ends the loop and propagates: results are never dropped.
        """
        while not stop.is_set():
            started = time.monotonic()
            for result in self._poll(stop):
                on_result(result)
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))

    def close(self) -> None:
        """Close the serial port (or socket)."""
        with self._bus_lock:
            self._client.close()  # type: ignore[no-untyped-call, unused-ignore]

    def __enter__(self) -> ModbusPoller:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- one unit's turn -----------------------------------------------------------------------------------

    def _poll(self, stop: threading.Event | None = None) -> Iterator[PollResult]:
        for unit in self.units:
            if stop is not None and stop.is_set():
                return
            with self._bus_lock:
                result = self._poll_unit(unit)
            yield result

    def _poll_unit(self, unit: UnitConfig) -> PollResult:
        self._set_timeout(unit.timeout_s)
        frames: list[bytes] = []
        blocks: dict[tuple[str, int], tuple[int, ...]] = {}
        for function, start, count in read_plan(unit.register_map):
            answer = self._read(unit.unit_id, function, start, count)
            frames.append(answer.frame)
            if answer.error is not None:
                return _result(unit, frames, error=answer.error, rejected=answer.rejected)
            blocks[(function, start)] = answer.words
        readings = tuple(decode_blocks(unit.register_map, blocks))
        return _result(unit, frames, readings=readings)

    def _read(self, unit_id: int, function: str, start: int, count: int) -> _Answer:
        """One request; the response frame as received, decoded and checked, or why there is none."""
        self._received = b""
        try:
            response = self._request(unit_id, function, start, count)
        except ModbusIOException:
            return _no_answer(self._received, unit_id)
        except ConnectionException as exc:
            return _Answer(error=f"connection: {exc}")
        except ModbusException as exc:
            return _Answer(error=f"invalid response: {exc}", rejected=self._received)
        frame = find_response_frame(self._received, unit_id, function)
        if frame is None:
            return _Answer(error="frame mismatch", rejected=self._received)
        return _check(frame, response, count)

    def _request(self, unit_id: int, function: str, start: int, count: int) -> ModbusPDU:
        if function == "input":
            return self._client.read_input_registers(start, count=count, device_id=unit_id)
        return self._client.read_holding_registers(start, count=count, device_id=unit_id)

    def _set_timeout(self, timeout_s: float) -> None:
        """Bound the next requests by ``timeout_s`` (pymodbus keeps two copies of the setting)."""
        self._client.comm_params.timeout_connect = timeout_s
        self._client.transaction.comm_params.timeout_connect = timeout_s
        if self._client.socket is not None:
            self._client.socket.timeout = timeout_s

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """pymodbus's packet hook: remember the receive buffer (the latest call holds every byte of the frame)."""
        if not sending:
            self._received = bytes(data)
        return data


def _check_bus(url: str, units: Sequence[UnitConfig], parity: str, stopbits: int) -> None:
    if not url:
        raise ConfigError("a Modbus bus needs a serial port or URL")
    if not units:
        raise ConfigError(f"Modbus bus {url}: no units to poll")
    ids = [unit.unit_id for unit in units]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"Modbus bus {url}: unit ids must be unique on a bus, got {ids}")
    if parity not in ("N", "E", "O") or stopbits not in (1, 2):
        raise ConfigError(f"Modbus bus {url}: parity must be N, E or O and stopbits 1 or 2")


def _check(frame: bytes, response: ModbusPDU, count: int) -> _Answer:
    """Decode the captured frame and check it says what pymodbus understood."""
    try:
        parsed = parse_response(frame)
    except ModbusError:
        return _Answer(error="frame mismatch", rejected=frame)
    if parsed.exception_code is not None:
        return _Answer(frame=frame, error=f"exception code {parsed.exception_code}")
    if isinstance(response, ExceptionResponse) or list(parsed.words) != list(response.registers):
        return _Answer(frame=frame, error="frame mismatch")
    if len(parsed.words) != count:
        return _Answer(frame=frame, error=f"invalid response: {len(parsed.words)} registers for {count}")
    return _Answer(frame=frame, words=parsed.words)


def _no_answer(received: bytes, unit_id: int) -> _Answer:
    """No valid response in time: silence is a timeout; bytes from this unit that fail the CRC are ``crc``."""
    if not received:
        return _Answer(error="timeout")
    error = "crc" if received[0] == unit_id and received[1:2] in _READ_CODES else "invalid response"
    return _Answer(error=error, rejected=received)


def _result(
    unit: UnitConfig,
    frames: list[bytes],
    *,
    readings: tuple[Reading, ...] = (),
    error: str | None = None,
    rejected: bytes = b"",
) -> PollResult:
    return PollResult(unit.unit_id, datetime.now(UTC), readings, b"".join(frames), error, rejected)
