"""Serial lines via pyserial's ``serial_for_url``: real ports, ptys, ``socket://`` and ``loop://`` alike.

The reader thread feeds whatever arrives to the line's adapter. After a second with no bytes it flushes the
decoder, so a frame that ends a burst (and whose tail, if any, has arrived) is not held back. A port that
disappears (a USB adapter pulled out) is reopened with backoff until the gateway stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import serial

from device_gateway.spool import FrameRecord

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.2
IDLE_FLUSH_S = 1.0
Submit = Callable[[FrameRecord, Callable[[], None] | None], None]


class LineAdapter(Protocol):
    """What turns a byte stream into records: ``feed``/``flush`` return (record, reply bytes or None) pairs."""

    def feed(self, data: bytes, received_at: datetime) -> list[tuple[FrameRecord, bytes | None]]: ...

    def flush(self, received_at: datetime) -> list[tuple[FrameRecord, bytes | None]]: ...


class SerialSource:
    def __init__(self, *, url: str, baudrate: int, adapter: LineAdapter, submit: Submit, label: str) -> None:
        self.url = url
        self.baudrate = baudrate
        self.adapter = adapter
        self.submit = submit
        self.label = label
        self.status = "starting"
        self._open_port: serial.SerialBase | None = None

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop``; the port stays open for replies to the last frames until ``finish``."""
        delay = 1.0
        while not stop.is_set():
            try:
                port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=READ_TIMEOUT_S)
            except (serial.SerialException, ValueError, OSError) as exc:
                self.status = f"cannot open: {exc}"
                stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            self.status = "reading"
            self._open_port = port
            try:
                self._read(port, stop)
            except (serial.SerialException, OSError) as exc:
                self.status = f"lost: {exc}"
                log.warning("%s: %s; reopening", self.label, exc)
                port.close()
            self._emit(self.adapter.flush(datetime.now(UTC)), port)
        self.status = "stopped"

    def finish(self) -> None:
        if self._open_port is not None:
            self._open_port.close()

    def _read(self, port: serial.SerialBase, stop: threading.Event) -> None:
        last_data = time.monotonic()
        flushed = True
        while not stop.is_set():
            data = port.read(4096)
            if data:
                self._emit(self.adapter.feed(data, datetime.now(UTC)), port)
                last_data, flushed = time.monotonic(), False
            elif not flushed and time.monotonic() - last_data >= IDLE_FLUSH_S:
                self._emit(self.adapter.flush(datetime.now(UTC)), port)
                flushed = True

    def _emit(self, results: list[tuple[FrameRecord, bytes | None]], port: serial.SerialBase) -> None:
        for record, reply in results:
            self.submit(record, None if reply is None else _writer(port, reply, self.label))


def _writer(port: serial.SerialBase, reply: bytes, label: str) -> Callable[[], None]:
    def write_reply() -> None:
        try:
            port.write(reply)
        except (serial.SerialException, OSError) as exc:
            log.warning("%s: reply not sent: %s", label, exc)

    return write_reply
