"""An HJ 212 data logger (数采仪) pushing real-time data over TCP and waiting for the upper computer's reply.

Frames ask for a reply (Flag=5: version 2017, reply wanted). A frame not answered with CN=9014 echoing its QN
within ``reply_timeout`` is sent again, up to ``retries`` times, as real loggers do, which is exactly why the
gateway must recognise resent frames.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from device_gateway.protocols import hj212
from device_gateway.simulators.monitor import CHINA
from device_gateway.simulators.readings import ReadingWalk


@dataclass
class LoggerSimulator:
    host: str
    port: int
    mn: str = "LYWATER0007"
    count: int = 10
    interval: float = 0.2
    reply_timeout: float = 2.0
    retries: int = 3
    profile: str = "water"
    exceed: bool = False
    time_step: timedelta | None = None  # as in MonitorSimulator: fixed steps of data time instead of the clock
    first_time: datetime = datetime(2026, 5, 12, 9, 0, tzinfo=CHINA)
    acknowledged: int = 0
    resent: int = 0

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        with socket.create_connection((self.host, self.port), timeout=self.reply_timeout) as connection:
            decoder = hj212.StreamDecoder()
            walk = ReadingWalk(self.profile, self.exceed, seed=1)
            for number in range(self.count):
                if stop.is_set():
                    return
                frame, qn = self._frame(number, walk)
                if self._send_until_answered(connection, decoder, frame, qn):
                    self.acknowledged += 1
                stop.wait(self.interval)

    def _frame(self, number: int, walk: ReadingWalk) -> tuple[bytes, str]:
        now = datetime.now(UTC) if self.time_step is None else self.first_time + number * self.time_step
        local = now.astimezone(CHINA)
        qn = local.strftime("%Y%m%d%H%M%S") + f"{number % 1000:03d}"
        cp = hj212.encode_readings_cp(local.strftime("%Y%m%d%H%M%S"), walk.next())
        return hj212.encode_frame(qn=qn, st="21", cn="2011", pw="123456", mn=self.mn, flag=5, cp=cp), qn

    def _send_until_answered(
        self, connection: socket.socket, decoder: hj212.StreamDecoder, frame: bytes, qn: str
    ) -> bool:
        for attempt in range(self.retries + 1):
            if attempt:
                self.resent += 1
            connection.sendall(frame)
            if self._await_reply(connection, decoder, qn):
                return True
        return False

    def _await_reply(self, connection: socket.socket, decoder: hj212.StreamDecoder, qn: str) -> bool:
        try:
            while True:
                data = connection.recv(4096)
                if not data:
                    return False
                for item in decoder.feed(data) + decoder.flush():
                    if isinstance(item, hj212.Packet) and item.cn == "9014" and item.qn == qn:
                        return True
        except TimeoutError:
            return False
