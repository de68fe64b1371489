"""``fieldproof gateway simulate``: simulated devices speaking the real protocols, for demos and tests."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from device_gateway.protocols.modbus import load_map
from device_gateway.simulators.logger import LoggerSimulator
from device_gateway.simulators.modbus_instrument import ModbusInstrument
from device_gateway.simulators.monitor import GpsSimulator, MonitorSimulator
from device_gateway.simulators.mqtt_monitor import MqttMonitorSimulator
from device_gateway.simulators.readings import units_parameter
from evidence.errors import InputError
from fieldproof import console


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "simulate",
        help="模拟监测设备 simulate field devices",
        description="Run a simulated device until Ctrl-C (or --count frames): an HJ 212 monitor on a pty "
        "(optionally with a GPS receiver), an HJ 212 data logger over TCP, an MQTT monitor, or a Modbus instrument.",
    )
    kinds = parser.add_subparsers(dest="device", metavar="DEVICE", required=True)
    _monitor_parser(kinds)
    _logger_parser(kinds)
    _mqtt_parser(kinds)
    _modbus_parser(kinds)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, help="frames to send, then stop (default: until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between frames (default 1)")
    parser.add_argument("--exceed", action="store_true", help="send values well over national limits")


def _monitor_parser(kinds: Any) -> None:
    parser = kinds.add_parser(
        "monitor",
        help="HJ 212 monitor on a pty",
        description="An HJ 212 monitor writing "
        "real-time data (CN=2011) to a pseudo-terminal; prints the path to listen on.",
    )
    _common(parser)
    parser.add_argument("--mn", default="LYDUST0042", help="the monitor's MN (device id)")
    parser.add_argument("--profile", choices=("dust", "water"), default="dust")
    parser.add_argument("--gps", action="store_true", help="also simulate a GPS receiver on a second pty")
    parser.add_argument("--corrupt-every", type=int, default=0, metavar="N", help="every Nth frame with a bad CRC")
    parser.add_argument("--garbage", action="store_true", help="noise bytes between frames")
    parser.add_argument("--split", action="store_true", help="write each frame in two pieces")
    parser.set_defaults(run=_run_monitor)


def _logger_parser(kinds: Any) -> None:
    parser = kinds.add_parser(
        "logger",
        help="HJ 212 data logger over TCP",
        description="A data logger pushing HJ 212 frames to HOST:PORT, waiting for replies.",
    )
    _common(parser)
    parser.add_argument("--to", required=True, metavar="HOST:PORT", help="the gateway's hj212+tcp listener")
    parser.add_argument("--mn", default="LYWATER0007")
    parser.set_defaults(run=_run_logger)


def _mqtt_parser(kinds: Any) -> None:
    parser = kinds.add_parser("mqtt", help="MQTT monitor", description="A monitor publishing readings with QoS 1.")
    _common(parser)
    parser.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT")
    parser.add_argument("--topic", default="fieldproof/site/LYMQTT0001/readings")
    parser.add_argument("--device", dest="device_id", default="LYMQTT0001")
    parser.add_argument("--format", choices=("json", "hj212"), default="json")
    parser.set_defaults(run=_run_mqtt)


def _modbus_parser(kinds: Any) -> None:
    parser = kinds.add_parser(
        "modbus",
        help="Modbus RTU instrument",
        description="A Modbus RTU instrument serving a register map over a TCP socket "
        "(read it with modbus+socket://HOST:PORT?unit=N&map=NAME).",
    )
    parser.add_argument("--map", required=True, help="register map name (see docs/protocols.md)")
    parser.add_argument("--unit", type=int, action="append", default=[], help="unit id to serve (repeatable)")
    parser.add_argument("--port", type=int, default=5020)
    parser.set_defaults(run=_run_modbus)


def _until_stopped() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _run_monitor(args: argparse.Namespace) -> int:
    stop = _until_stopped()
    monitor = MonitorSimulator(
        mn=args.mn,
        interval=args.interval,
        count=args.count,
        corrupt_every=args.corrupt_every,
        garbage=args.garbage,
        split_writes=args.split,
        exceed=args.exceed,
        profile=args.profile,
    )
    units = units_parameter(args.profile)
    console.stdout.print(
        f"HJ 212 monitor {args.mn}: serial://{monitor.pty.path}?baud=9600&protocol=hj212&units={units}",
        markup=False,
        soft_wrap=True,
    )
    threads = []
    if args.gps:
        gps = GpsSimulator()
        console.stdout.print(
            f"GPS receiver: serial://{gps.pty.path}?baud=9600&protocol=nmea", markup=False, soft_wrap=True
        )
        threads.append(threading.Thread(target=gps.run, args=(stop,), daemon=True))
    for thread in threads:
        thread.start()
    monitor.run(stop)
    stop.set()
    console.stderr.print(f"sent {monitor.sent} frames")
    return 0


def _run_logger(args: argparse.Namespace) -> int:
    host, _, port = args.to.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--to must be HOST:PORT, not {args.to!r}")
    logger = LoggerSimulator(
        host, int(port), mn=args.mn, count=args.count or 10, interval=args.interval, exceed=args.exceed
    )
    try:
        logger.run(_until_stopped())
    except OSError as exc:
        raise InputError(f"cannot reach {args.to}: {exc.strerror or exc}") from exc
    console.stdout.print(f"sent {args.count or 10} frames: {logger.acknowledged} answered, {logger.resent} resent")
    console.stderr.print(
        f"(the listener needs the logger's units: hj212+tcp://HOST:PORT?units={units_parameter('water')})",
        markup=False,
        soft_wrap=True,
    )
    return 0 if logger.acknowledged == (args.count or 10) else 1


def _run_mqtt(args: argparse.Namespace) -> int:
    host, _, port = args.broker.rpartition(":")
    simulator = MqttMonitorSimulator(
        host=host or "127.0.0.1",
        port=int(port or 1883),
        topic=args.topic,
        device=args.device_id,
        count=args.count or 10,
        interval=args.interval,
        payload_format=args.format,
        exceed=args.exceed,
    )
    try:
        simulator.run(_until_stopped())
    except OSError as exc:
        raise InputError(f"cannot reach the broker {args.broker}: {exc.strerror or exc}") from exc
    console.stdout.print(f"published {simulator.published} messages to {args.topic}")
    return 0


def _run_modbus(args: argparse.Namespace) -> int:
    register_map = load_map(args.map)
    instrument = ModbusInstrument(units=dict.fromkeys(args.unit or [1], register_map))
    url = instrument.start_socket(port=args.port)
    units = ",".join(str(u) for u in (args.unit or [1]))
    console.stdout.print(f"Modbus instrument: modbus+{url}?unit={units}&map={args.map}", markup=False)
    _until_stopped().wait()
    instrument.stop()
    return 0
