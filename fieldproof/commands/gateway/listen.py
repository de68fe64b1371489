"""``fieldproof gateway listen``: read monitors, keep every frame, flag exceedances, seal on stop."""

from __future__ import annotations

import argparse
import queue
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from rich.live import Live
from rich.table import Table

from device_gateway.config import load_settings
from device_gateway.listen import ListenResult, ListenSession, Warning
from device_gateway.sources import parse_source
from fieldproof import console


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "listen",
        help="接收监测设备数据 listen to monitors",
        description="Read every SOURCE until Ctrl-C or SIGTERM (or --duration), keeping each frame exactly as "
        "received, deriving readings and flagging exceedances of national limits as they come. On stop, "
        "everything received is committed and each device's frames are sealed into a sensor-batch evidence "
        "item. SOURCE URLs: serial:///dev/ttyUSB0?baud=9600&protocol=hj212 (or protocol=nmea), "
        "modbus:///dev/ttyUSB1?baud=9600&unit=1&map=NAME, hj212+tcp://0.0.0.0:9000, mqtt://host:1883/topic/#. "
        "See docs/protocols.md.",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("--data", type=Path, metavar="DIR", help="gateway data folder")
    parser.add_argument("--visit", metavar="ID", help="the site visit these readings belong to")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop by itself after this long")
    parser.add_argument("--json", action="store_true", help="print JSON lines (exceedances, sealed items, summary)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    specs = [parse_source(text) for text in args.sources]
    settings = load_settings(args.data)
    printer = _WarningPrinter(args.json)
    session = ListenSession(specs, settings=settings, visit=args.visit, on_warning=printer.put)
    stop = threading.Event()
    with _stop_on_signals(stop):
        if args.duration is not None:
            timer = threading.Timer(args.duration, stop.set)
            timer.daemon = True
            timer.start()
        with _live_view(session, enabled=not args.json):
            result = session.run(stop, started=lambda: _started(specs, settings.data_dir, args.json))
    printer.close()
    _report(result, args.json)
    return 0 if result.failure is None else 1


def _started(specs: list[Any], data_dir: Path, as_json: bool) -> None:
    if not as_json:
        console.stderr.print(
            f"正在接收 listening on {len(specs)} source(s); 数据 data: {data_dir}; Ctrl-C 停止 to stop"
        )


class _WarningPrinter:
    """Prints exceedances from its own thread: a slow or blocked terminal never holds up storage."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._queue: queue.SimpleQueue[Warning | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="warning-printer", daemon=True)
        self._thread.start()

    def put(self, warning: Warning) -> None:
        self._queue.put(warning)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (warning := self._queue.get()) is not None:
            exceedance = warning.exceedance
            if self.as_json:
                console.print_json({"event": "exceedance", "device": warning.device, **exceedance.to_json()})
            else:
                console.stdout.print(f"[bold red]超标 EXCEEDANCE[/] {warning.device}: {exceedance.message_zh()}")
                console.stdout.print(f"    {exceedance.message_en()}", markup=False)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _live_view(session: ListenSession, *, enabled: bool) -> Iterator[None]:
    if not (enabled and console.stderr.is_terminal):
        yield
        return
    with Live(get_renderable=lambda: _table(session), console=console.stderr, refresh_per_second=2, transient=True):
        yield


def _table(session: ListenSession) -> Table:
    table = Table(title="fieldproof gateway · 实时接收 live")
    for column in (
        "来源 source",
        "帧 frames",
        "无效 invalid",
        "重复 dup",
        "读数 readings",
        "超标 exceed",
        "设备 device",
    ):
        table.add_column(column)
    for label, c in session.counts.items():
        table.add_row(
            label,
            str(c.frames),
            str(c.invalid),
            str(c.duplicates),
            str(c.readings),
            str(c.exceedances),
            c.last_device or "—",
        )
    return table


def _report(result: ListenResult, as_json: bool) -> None:
    if as_json:
        for batch in result.sealed:
            console.print_json({"event": "sealed", **batch.__dict__})
        counts = {label: c.__dict__ | {"last_received_at": None} for label, c in result.counts.items()}
        console.print_json({"event": "summary", "sources": counts, "failure": result.failure})
        return
    for label, c in result.counts.items():
        console.stdout.print(
            f"{label}: {c.frames} frames ({c.invalid} invalid, {c.duplicates} duplicates), {c.readings} readings, "
            f"{c.exceedances} exceedances",
            markup=False,
            soft_wrap=True,
        )
    for batch in result.sealed:
        console.stdout.print(
            f"已封存 sealed {batch.name}: {batch.frames} frames, {batch.readings} readings, SHA-256 {batch.sha256}",
            markup=False,
            soft_wrap=True,
        )
    if result.failure:
        console.error(f"the spool failed; frames after the failure were not acknowledged: {result.failure}")
