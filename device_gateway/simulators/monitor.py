"""A portable monitor streaming HJ 212 over a serial line, simulated on a pseudo-terminal (pty).

The gateway reads the pty's other end exactly as it reads a USB-serial adapter. Options make the line as
messy as real ones: garbage between frames, frames split across writes, a CRC-corrupted frame now and then.
A GPS receiver can be simulated on a second pty, speaking NMEA 0183 (GGA and RMC, GN talker).
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import tty
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from device_gateway.protocols import hj212
from device_gateway.simulators.readings import ReadingWalk

CHINA = timezone(timedelta(hours=8))


class Pty:
    """A pseudo-terminal pair in raw mode: write to ``master``; the gateway opens ``path``."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no line discipline: bytes pass exactly (no CR/LF translation, no echo)
        self.path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@dataclass
class MonitorSimulator:
    """Writes real-time data uploads (CN=2011) for one monitor, every ``interval`` seconds."""

    mn: str = "LYDUST0042"
    interval: float = 1.0
    count: int | None = None
    corrupt_every: int = 0  # every Nth frame gets a bad CRC (0: never)
    garbage: bool = False
    split_writes: bool = False
    exceed: bool = False
    profile: str = "dust"
    seed: int | None = None
    # Data time of frame n = first_time + n × time_step (tests send minute data in milliseconds); else the clock.
    time_step: timedelta | None = None
    first_time: datetime = datetime(2026, 5, 12, 9, 0, tzinfo=CHINA)
    pty: Pty = field(default_factory=Pty)
    sent: int = 0

    def frame(self, number: int, now: datetime) -> bytes:
        if self.time_step is not None:
            now = self.first_time + number * self.time_step
        local = now.astimezone(CHINA)
        readings = ReadingWalk(self.profile, self.exceed, seed=(self.seed or 0) + number).next()
        cp = hj212.encode_readings_cp(local.strftime("%Y%m%d%H%M%S"), readings)
        qn = local.strftime("%Y%m%d%H%M%S%f")[:17]
        return hj212.encode_frame(qn=qn, st="22", cn="2011", pw="123456", mn=self.mn, flag=4, cp=cp)

    def run(self, stop: threading.Event) -> None:
        rng = random.Random(self.seed)
        number = 0
        while not stop.is_set() and (self.count is None or number < self.count):
            data = self.frame(number, datetime.now(UTC))
            number += 1
            if self.corrupt_every and number % self.corrupt_every == 0:
                data = _corrupt_crc(data)
            if self.garbage and rng.random() < 0.3:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))).replace(b"#", b"") + data
            self._write(data, rng)
            self.sent += 1
            stop.wait(self.interval)

    def _write(self, data: bytes, rng: random.Random) -> None:
        if not self.split_writes:
            self.pty.write(data)
            return
        cut = rng.randrange(1, len(data))
        self.pty.write(data[:cut])
        self.pty.write(data[cut:])


def _corrupt_crc(frame: bytes) -> bytes:
    body = frame.rstrip(b"\r\n")
    crc = body[-4:]
    wrong = b"0000" if crc != b"0000" else b"FFFF"
    return body[:-4] + wrong + frame[len(body) :]


@dataclass
class GpsSimulator:
    """A GNSS receiver at a fixed site (with a little jitter), writing GGA and RMC once a second."""

    lat: float = 34.6197
    lon: float = 112.4540
    alt: float = 141.0
    interval: float = 1.0
    pty: Pty = field(default_factory=Pty)

    def run(self, stop: threading.Event) -> None:
        rng = random.Random(7)
        while not stop.is_set():
            now = datetime.now(UTC)
            lat = self.lat + rng.gauss(0, 0.00001)
            lon = self.lon + rng.gauss(0, 0.00001)
            self.pty.write(nmea_sentences(now, lat, lon, self.alt))
            stop.wait(self.interval)


def nmea_sentences(now: datetime, lat: float, lon: float, alt: float) -> bytes:
    """GNGGA and GNRMC sentences for one fix, with checksums."""
    hhmmss = now.strftime("%H%M%S") + f".{now.microsecond // 10000:02d}"
    lat_text, lat_hemi = _nmea_angle(lat, 2), "N" if lat >= 0 else "S"
    lon_text, lon_hemi = _nmea_angle(lon, 3), "E" if lon >= 0 else "W"
    gga = f"GNGGA,{hhmmss},{lat_text},{lat_hemi},{lon_text},{lon_hemi},1,12,0.8,{alt:.1f},M,-20.0,M,,"
    rmc = f"GNRMC,{hhmmss},A,{lat_text},{lat_hemi},{lon_text},{lon_hemi},0.0,0.0,{now.strftime('%d%m%y')},,,A"
    return b"".join(f"${body}*{_checksum(body):02X}\r\n".encode() for body in (gga, rmc))


def _nmea_angle(value: float, degree_digits: int) -> str:
    magnitude = abs(value)
    degrees = int(magnitude)
    minutes = (magnitude - degrees) * 60
    return f"{degrees:0{degree_digits}d}{minutes:07.4f}"


def _checksum(body: str) -> int:
    total = 0
    for byte in body.encode():
        total ^= byte
    return total
