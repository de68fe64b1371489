"""The Modbus RTU poller against a real pymodbus serial server speaking RTU over socket:// (a simulated bus)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC

import pytest

from device_gateway.errors import ConfigError
from device_gateway.protocols.modbus import (
    RegisterMap,
    crc16_modbus,
    decode_frames,
    load_map,
    parse_response,
    read_plan,
    split_frames,
)
from device_gateway.simulators.modbus_instrument import ModbusInstrument
from device_gateway.transports.modbus import ModbusPoller, PollResult, UnitConfig

BAUD = 115200  # meaningless on a socket, but pymodbus paces its reads by it (see the poller's docstring)
SONDE = load_map("insitu-aqua-troll-400")
DUST = load_map("deltaohm-pmsense")
EXAMPLE = load_map("example-water-sonde")


@pytest.fixture
def bus() -> Iterator[tuple[ModbusInstrument, str]]:
    """A bus serving unit 1 (water sonde) and unit 3 (dust sensor); unit 2 is not there."""
    instrument = ModbusInstrument(units={1: SONDE, 3: DUST}, values={3: {"pm2_5": 75.3}})
    url = instrument.start_socket()
    yield instrument, url
    instrument.stop()


def _poller(url: str, *units: UnitConfig) -> ModbusPoller:
    return ModbusPoller(url, baudrate=BAUD, units=units or [UnitConfig(1, SONDE), UnitConfig(3, DUST)])


def _values(result: PollResult) -> dict[str, float | None]:
    return {reading.code: reading.value for reading in result.readings}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_values_read_equal_values_set(bus: tuple[ModbusInstrument, str]) -> None:
    instrument, url = bus
    with _poller(url) as poller:
        sonde, dust = poller.poll_once()
        assert (sonde.unit_id, sonde.error, dust.unit_id, dust.error) == (1, None, 3, None)
        assert _values(sonde) == {"w01009": 8.25, "w01010": 17.5, "w01006": 0.35, "w01001": 7.1}
        assert _values(dust) == {"a34005": 18.4, "a34004": 75.3, "a34002": 61.7}
        assert {r.unit for r in dust.readings} == {"ug/m3"}
        assert all(r.kind == "Rtd" and r.flag == "N" for r in sonde.readings + dust.readings)
        instrument.set_value(1, "ph", 6.45)
        instrument.set_value(3, "pm10", 0.0)
        sonde, dust = poller.poll_once()
        assert (_values(sonde)["w01001"], _values(dust)["a34002"]) == (6.45, 0.0)


def test_every_type_and_order_survives_the_wire() -> None:
    values = {"ph": 8.05, "conductivity": 1234.5, "water_temperature": -3.5, "cod": 123456.78, "turbidity": 0.0}
    instrument = ModbusInstrument(units={7: EXAMPLE}, values={7: values})
    with instrument, _poller(instrument.start_socket(), UnitConfig(7, EXAMPLE)) as poller:
        (result,) = poller.poll_once()
    expected = {r.code: values.get(r.name, r.sample) for r in EXAMPLE.registers}
    assert result.error is None
    assert _values(result) == expected


def test_raw_frames_are_the_evidence(bus: tuple[ModbusInstrument, str]) -> None:
    _, url = bus
    with _poller(url) as poller:
        results = poller.poll_once()
    for result, register_map in zip(results, (SONDE, DUST), strict=True):
        frames = split_frames(result.raw)  # raises unless every frame is whole with a valid CRC
        assert len(frames) == len(read_plan(register_map))
        for frame in frames:
            assert crc16_modbus(frame[:-2]) == int.from_bytes(frame[-2:], "little")
            assert frame[0] == result.unit_id
        assert decode_frames(register_map, result.raw, unit_id=result.unit_id) == list(result.readings)
        assert result.at.tzinfo is UTC
    assert [parse_response(f).function_code for f in split_frames(results[1].raw)] == [4]


def test_a_dead_unit_does_not_stall_the_others(bus: tuple[ModbusInstrument, str]) -> None:
    instrument, url = bus
    units = [UnitConfig(1, SONDE, 1.0), UnitConfig(2, DUST, 0.2), UnitConfig(3, DUST, 1.0)]
    polls = 4
    with _poller(url, *units) as poller:
        rounds = [poller.poll_once() for _ in range(polls)]
    assert len(rounds) == polls
    for results in rounds:
        assert [r.unit_id for r in results] == [1, 2, 3]
        live = [r for r in results if r.unit_id != 2]
        assert all(
            r.error is None and len(r.readings) == len(m.registers) for r, m in zip(live, (SONDE, DUST), strict=True)
        )
        dead = results[1]
        assert (dead.error, dead.readings, dead.raw, dead.rejected) == ("timeout", (), b"", b"")
    # strictly sequential, and the dead unit cost exactly one unanswered request (one timeout) per poll
    per_poll = [(1, 3, 37, 10), (1, 3, 569, 2), (1, 3, 1537, 2), (2, 4, 3, 3), (3, 4, 3, 3)]
    assert instrument.requests == per_poll * polls


def test_each_unit_waits_only_for_its_own_timeout(bus: tuple[ModbusInstrument, str]) -> None:
    _, url = bus
    patient = 20.0  # the live units would wait this long; the dead unit only 0.2 s
    units = [UnitConfig(1, SONDE, patient), UnitConfig(2, DUST, 0.2), UnitConfig(3, DUST, patient)]
    with _poller(url, *units) as poller:
        started = time.monotonic()
        rounds = [poller.poll_once() for _ in range(3)]
        elapsed = time.monotonic() - started
    assert [[r.error for r in results] for results in rounds] == [[None, "timeout", None]] * 3
    assert elapsed < patient  # generous: had the dead unit waited the live units' timeout, this took 60 s


def test_a_unit_that_goes_silent_times_out_then_recovers(bus: tuple[ModbusInstrument, str]) -> None:
    instrument, url = bus
    with _poller(url, UnitConfig(1, SONDE, 0.5), UnitConfig(3, DUST)) as poller:
        instrument.set_fault(1, "silent")
        sonde, dust = poller.poll_once()
        assert (sonde.error, sonde.raw, dust.error) == ("timeout", b"", None)
        instrument.set_fault(1, None)
        sonde, dust = poller.poll_once()
        assert (sonde.error, len(sonde.readings), dust.error) == (None, 4, None)
    # the silent unit's turn ended at its first unanswered read: its two other reads were never sent
    assert [request[0] for request in instrument.requests] == [1, 3, 1, 1, 1, 3]


def test_bad_crc_is_reported_and_the_bytes_kept_apart(bus: tuple[ModbusInstrument, str]) -> None:
    instrument, url = bus
    instrument.set_fault(3, "bad-crc")
    with _poller(url, UnitConfig(1, SONDE), UnitConfig(3, DUST, 0.5)) as poller:
        sonde, dust = poller.poll_once()
    assert sonde.error is None
    assert (dust.error, dust.readings, dust.raw) == ("crc", (), b"")
    assert dust.rejected[:3] == bytes([3, 4, 6])  # the corrupted frame, verbatim
    assert crc16_modbus(dust.rejected[:-2]) != int.from_bytes(dust.rejected[-2:], "little")


def test_an_exception_response_is_evidence_too(bus: tuple[ModbusInstrument, str]) -> None:
    _, url = bus
    wrong = RegisterMap("wrong", "Wrong map", "example: test", (DUST.registers[0],))
    moved = RegisterMap("moved", "Moved", "example: test", (EXAMPLE.registers[0],))  # holding 0: not served
    with _poller(url, UnitConfig(3, moved), UnitConfig(1, wrong)) as poller:
        first, second = poller.poll_once()
    for result in (first, second):
        assert (result.error, result.readings) == ("exception code 2", ())
        (frame,) = split_frames(result.raw)
        assert parse_response(frame).exception_code == 2


def test_no_bus_reports_connection_errors_without_raising() -> None:
    url = f"socket://127.0.0.1:{_free_port()}"
    with _poller(url, UnitConfig(1, SONDE, 0.2), UnitConfig(3, DUST, 0.2)) as poller:
        results = poller.poll_once()
    assert [r.unit_id for r in results] == [1, 3]
    assert all(r.error is not None and r.error.startswith("connection") and not r.raw for r in results)


def test_run_hands_over_results_until_stopped(bus: tuple[ModbusInstrument, str]) -> None:
    _, url = bus
    stop = threading.Event()
    seen: list[PollResult] = []

    def collect(result: PollResult) -> None:
        seen.append(result)
        if len(seen) == 5:
            stop.set()

    with _poller(url, UnitConfig(1, SONDE), UnitConfig(2, DUST, 0.1), UnitConfig(3, DUST)) as poller:
        worker = threading.Thread(target=poller.run, args=(collect,), kwargs={"interval_s": 0.01, "stop": stop})
        worker.start()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert [r.unit_id for r in seen] == [1, 2, 3, 1, 2]  # stops between units, not at the end of a poll
    assert [r.error for r in seen] == [None, "timeout", None, None, "timeout"]


def test_run_propagates_a_failing_consumer(bus: tuple[ModbusInstrument, str]) -> None:
    _, url = bus

    def refuse(result: PollResult) -> None:
        raise RuntimeError(f"spool full at unit {result.unit_id}")

    with _poller(url) as poller, pytest.raises(RuntimeError, match="spool full at unit 1"):
        poller.run(refuse, interval_s=0.0, stop=threading.Event())


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ([], "no units to poll"),
        ([UnitConfig(1, DUST), UnitConfig(1, SONDE)], "unit ids must be unique"),
    ],
)
def test_bus_configuration_is_checked(units: list[UnitConfig], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ModbusPoller("socket://127.0.0.1:1", units=units)


def test_unit_and_instrument_configuration_is_checked() -> None:
    with pytest.raises(ConfigError, match="unit id must be 1-247"):
        UnitConfig(0, DUST)
    with pytest.raises(ConfigError, match="timeout_s must be positive"):
        UnitConfig(1, DUST, 0)
    with pytest.raises(ConfigError, match="parity"):
        ModbusPoller("socket://127.0.0.1:1", units=[UnitConfig(1, DUST)], parity="X")
    with pytest.raises(ConfigError, match="unit ids from 1 to 247"):
        ModbusInstrument(units={248: DUST})
    instrument = ModbusInstrument(units={1: DUST})
    with pytest.raises(ConfigError, match="unit 2 is not served"):
        instrument.set_value(2, "pm10", 1.0)
    with pytest.raises(ConfigError, match="no register named 'pm4'"):
        instrument.set_value(1, "pm4", 1.0)
    with pytest.raises(ConfigError, match="unknown fault"):
        instrument.set_fault(1, "on-fire")


def test_the_simulator_reports_a_port_it_cannot_listen_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        instrument = ModbusInstrument(units={1: DUST})
        with pytest.raises(ConfigError, match="could not listen"):
            instrument.start_socket(port=taken.getsockname()[1])
    url = instrument.start_socket()  # and it can start afterwards
    with instrument, _poller(url, UnitConfig(1, DUST)) as poller:
        assert poller.poll_once()[0].error is None
