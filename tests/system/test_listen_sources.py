"""The gateway listening to real ptys, a real TCP socket and a real Modbus RTU server, end to end into the spool.

Each test runs a ListenSession in a thread against simulated devices that speak the real protocols over the
real transports (a pseudo-terminal, a TCP connection, pymodbus's serial server on a socket), stops it the way
Ctrl-C does, and checks what the spool holds and what was sealed.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from device_gateway.config import load_settings
from device_gateway.listen import ListenResult, ListenSession, Warning
from device_gateway.protocols import hj212
from device_gateway.protocols.modbus import load_map
from device_gateway.simulators.logger import LoggerSimulator
from device_gateway.simulators.modbus_instrument import ModbusInstrument
from device_gateway.simulators.monitor import GpsSimulator, MonitorSimulator
from device_gateway.simulators.readings import units_parameter
from device_gateway.sources import parse_source
from device_gateway.spool.queries import reading_rows
from tests.system.conftest import free_port


class Running:
    def __init__(self) -> None:
        self.result: ListenResult | None = None
        self.warnings: list[Warning] = []
        self.session: ListenSession | None = None


@contextmanager
def listening(data: Path, *sources: str, visit: str = "V1") -> Iterator[Running]:
    running = Running()
    started = threading.Event()
    stop = threading.Event()
    session = ListenSession(
        [parse_source(s) for s in sources],
        settings=load_settings(data),
        visit=visit,
        on_warning=running.warnings.append,
    )
    running.session = session

    def run() -> None:
        running.result = session.run(stop, started=started.set)

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(20), "the session did not start"
    try:
        yield running
    finally:
        stop.set()
        thread.join(60)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def query(data: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data / "spool.sqlite3") as db:
        return db.execute(sql, args).fetchall()


def test_monitor_and_gps_on_ptys_messy_line(tmp_path: Path) -> None:
    monitor = MonitorSimulator(
        interval=0.05,
        count=12,
        corrupt_every=4,
        garbage=True,
        split_writes=True,
        exceed=True,
        seed=5,
        time_step=timedelta(minutes=1),
    )
    gps = GpsSimulator(interval=0.2)
    gps_stop = threading.Event()
    line = f"serial://{monitor.pty.path}?baud=9600&protocol=hj212&units={units_parameter('dust')}"
    receiver = f"serial://{gps.pty.path}?baud=4800&protocol=nmea&device=GNSS1"
    threading.Thread(target=gps.run, args=(gps_stop,), daemon=True).start()
    with listening(tmp_path, line, receiver) as running:
        time.sleep(1.0)  # the GPS has a few fixes before the monitor starts
        monitor.run(threading.Event())
        wait_until(lambda: query(tmp_path, "SELECT COUNT(*) FROM frames WHERE protocol='hj212'")[0][0] >= 12)
    gps_stop.set()
    monitor.pty.close()
    gps.pty.close()

    valid = query(tmp_path, "SELECT COUNT(*) FROM frames WHERE device = 'LYDUST0042' AND error IS NULL")[0][0]
    invalid = query(tmp_path, "SELECT error FROM frames WHERE protocol = 'hj212' AND error IS NOT NULL")
    assert valid == 9, "12 frames, every 4th with a corrupted CRC"
    assert len(invalid) == 3
    assert all(str(error).startswith("crc") for (error,) in invalid)
    assert query(tmp_path, "SELECT COUNT(*) FROM readings WHERE device = 'LYDUST0042'")[0][0] == 27
    assert running.warnings, "--exceed values over GB 3095-2012 limits are flagged as they come"
    assert all(w.exceedance.indicative for w in running.warnings)
    assert query(tmp_path, "SELECT COUNT(*) FROM fixes")[0][0] >= 3
    assert running.result is not None
    sealed = {batch.device: batch for batch in running.result.sealed}
    assert sealed["LYDUST0042"].frames == 9
    assert "GNSS1" in sealed
    places = query(tmp_path, "SELECT metadata FROM items WHERE device = 'LYDUST0042'")
    assert '"source":"gateway-gnss-track"' in str(places[0][0]), "the batch is placed from the GPS track"
    with sqlite3.connect(tmp_path / "spool.sqlite3") as db:
        readings = reading_rows(db, device="LYDUST0042")
    assert len(readings) == 27
    assert all(r.position is not None for r in readings), "every reading placed from the track"
    assert {r.position["source"] for r in readings if r.position} == {"gateway-gnss-track"}
    assert all(
        r.position["fix_age_s"] < 1.0 and abs(r.position["lat"] - 34.6197) < 0.001 for r in readings if r.position
    )


def test_tcp_data_logger_gets_replies_only_after_storage(tmp_path: Path) -> None:
    port = free_port()
    source = f"hj212+tcp://127.0.0.1:{port}?units={units_parameter('water')}"
    with listening(tmp_path, source):
        logger = LoggerSimulator("127.0.0.1", port, count=6, interval=0.0, time_step=timedelta(minutes=1))
        logger.run()
    assert logger.acknowledged == 6, "every frame answered with CN=9014"
    assert logger.resent == 0
    assert query(tmp_path, "SELECT COUNT(*) FROM frames WHERE device = 'LYWATER0007'")[0][0] == 6
    assert query(tmp_path, "SELECT COUNT(*) FROM readings WHERE device = 'LYWATER0007'")[0][0] == 24


def test_a_frame_a_logger_sends_twice_is_stored_once(tmp_path: Path) -> None:
    port = free_port()
    frame = hj212.encode_frame(
        qn="20260512090000001",
        st="21",
        cn="2011",
        pw="123456",
        mn="LYWATER0008",
        flag=5,
        cp="DataTime=20260512090000;w01018-Rtd=31.5,w01018-Flag=N",
    )
    with listening(tmp_path, f"hj212+tcp://127.0.0.1:{port}"), socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(10)
        replies = []
        for _ in range(2):
            conn.sendall(frame)
            replies.append(conn.recv(4096))
    assert all(b"CN=9014" in reply and b"QN=20260512090000001" in reply for reply in replies)
    assert query(tmp_path, "SELECT COUNT(*) FROM frames WHERE device = 'LYWATER0008'")[0][0] == 1


def test_modbus_bus_with_a_dead_unit(tmp_path: Path) -> None:
    register_map = load_map("example-water-sonde")
    with ModbusInstrument(units={1: register_map, 3: register_map}) as instrument:
        url = instrument.start_socket()
        instrument.set_value(1, register_map.registers[0].name, 7.25)
        source = f"modbus+{url}?unit=1,2,3&map=example-water-sonde&baud=115200&interval=0.1&timeout=0.3"
        with listening(tmp_path, source):
            wait_until(lambda: _polls(tmp_path, "example-water-sonde-unit3") >= 3)
    assert _polls(tmp_path, "example-water-sonde-unit1") >= 3
    assert _polls(tmp_path, "example-water-sonde-unit2") == 0, "a dead unit leaves no frame and stalls nothing"
    first = register_map.registers[0]
    values = query(
        tmp_path, "SELECT value FROM readings WHERE device = 'example-water-sonde-unit1' AND code = ?", first.code
    )
    assert {v for (v,) in values} == {7.25}


def _polls(data: Path, device: str) -> int:
    if not (data / "spool.sqlite3").exists():
        return 0
    return int(query(data, "SELECT COUNT(*) FROM frames WHERE device = ?", device)[0][0])
