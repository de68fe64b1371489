"""NMEA 0183 codec: GGA and RMC sentences from a GNSS receiver (pure: bytes in, typed values out).

A sentence is ``$`` + address (talker + type, e.g. ``GPGGA``) + ``,``-separated fields + ``*`` + two hex digits
(the XOR of every byte between ``$`` and ``*``, either case). Design choices:

- The checksum is mandatory and checked before anything else, so a sentence without one (``missing-checksum``)
  or with a wrong one (``checksum``) is never interpreted. Structural problems are ``format``; a field that
  cannot be read (latitude, time, quality...) is ``field``; the stream decoder adds ``overlong``. These reason
  codes are stable: callers and the ``decode`` command may rely on them.
- GGA and RMC from the GNSS talkers in :data:`TALKERS` are decoded. Every other well-formed sentence (GSV, GSA,
  VTG, proprietary ``$P...``, unknown talkers) is *ignored*, not bad: it is valid NMEA we do not need.
- Numbers are matched with strict patterns before conversion, so ``nan``, ``inf``, ``1e5`` or ``1_0`` in a
  field (which Python's ``float`` would accept) are ``field`` errors.
- Empty position fields mean "no fix" (``lat``/``lon`` None). Half a position (latitude without longitude, a
  value without its hemisphere) is a ``field`` error. NMEA time is UTC; a two-digit RMC year ``yy`` is
  ``19yy`` for 80-99 and ``20yy`` otherwise (GPS began in 1980). A leap second (``60``) is a ``field`` error.
- :class:`NmeaStreamDecoder` frames lines on ``\\n`` (a trailing ``\\r`` is dropped) and also *before* every ``$``,
  so garbage, torn sentences and ``\\r``-only receivers resync at the next sentence. Non-empty garbage is
  reported as a :class:`BadSentence` (``format``): every received byte is accounted for.
"""

from __future__ import annotations

import functools
import operator
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from device_gateway.errors import NmeaError

TALKERS: Mapping[str, str] = {
    "GP": "GPS",
    "GL": "GLONASS",
    "GA": "Galileo",
    "BD": "BeiDou",
    "GB": "BeiDou",
    "GI": "NavIC",
    "GQ": "QZSS",
    "GN": "multi-constellation",
}
MAX_LINE = 1024  # bytes kept for one line; NMEA allows 82, proprietary sentences run longer

_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
_HEX2 = re.compile(rb"[0-9A-Fa-f]{2}")
_ADDRESS = re.compile(r"[A-Z0-9]{2,20}")
_UNSIGNED = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_SIGNED = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)")
_INTEGER = re.compile(r"\d+")
_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})(\.\d+)?")
_DATE = re.compile(r"(\d{2})(\d{2})(\d{2})")
_LAT = re.compile(r"(\d{1,2})([0-5]\d(?:\.\d+)?)")
_LON = re.compile(r"(\d{1,3})([0-5]\d(?:\.\d+)?)")
_MODE = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class Sentence:
    """A decoded GGA or RMC sentence. Positions are WGS-84 degrees, ``alt`` metres above mean sea level."""

    raw: bytes  # the sentence as received, without its line terminator
    talker: str
    type: str  # "GGA" or "RMC"
    time: time | None  # UTC time of day
    date: date | None  # RMC only
    lat: float | None
    lon: float | None
    alt: float | None  # GGA only
    quality: int | None  # GGA fix quality: 0 none, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 DR, 7 manual, 8 sim
    satellites: int | None
    hdop: float | None
    valid: bool  # RMC status A (mode not N), or GGA quality > 0; and a position present
    mode: str | None = None  # RMC mode indicator (NMEA 2.3+): A, D, E, F, M, N, P, R, S


@dataclass(frozen=True)
class BadSentence:
    """A line that is not a valid sentence; ``reason`` is a stable code, ``message`` says what was wrong."""

    raw: bytes
    reason: str
    message: str


@dataclass(frozen=True)
class IgnoredSentence:
    """A well-formed sentence of a type this codec does not decode (GSV, GSA, VTG, proprietary...)."""

    raw: bytes
    address: str  # e.g. "GPGSV" or "PUBX"


Item = Sentence | BadSentence | IgnoredSentence


def parse_sentence(line: bytes | str) -> Sentence | None:
    """Decode one sentence; None for a well-formed one we ignore; raises NmeaError(reason=...) for a bad one."""
    item = decode_sentence(line)
    return item if isinstance(item, Sentence) else None


def decode_sentence(line: bytes | str) -> Sentence | IgnoredSentence:
    """Like :func:`parse_sentence`, but says which sentence was ignored."""
    raw = (line.encode("utf-8") if isinstance(line, str) else bytes(line)).rstrip(b"\r\n")
    body = _checked_body(raw)
    address, *fields = body.split(",")
    if not _ADDRESS.fullmatch(address):
        raise NmeaError(f"bad address {address!r}", reason="format")
    talker, kind = address[:2], address[2:]
    if len(address) != 5 or talker not in TALKERS or kind not in _DECODERS:
        return IgnoredSentence(raw=raw, address=address)
    return _DECODERS[kind](raw, talker, fields)


def checksum(body: bytes) -> int:
    """The NMEA checksum: XOR of the bytes between ``$`` and ``*``."""
    return functools.reduce(operator.xor, body, 0)


def _checked_body(raw: bytes) -> str:
    """The text between ``$`` and ``*``, after checking the framing and the checksum."""
    if not raw.startswith(b"$"):
        raise NmeaError("a sentence starts with '$'", reason="format")
    star = raw.find(b"*")
    if star < 0 or star == len(raw) - 1:
        raise NmeaError("the sentence has no checksum", reason="missing-checksum")
    body, given = raw[1:star], raw[star + 1 :]
    if not _PRINTABLE.fullmatch(body) or b"$" in body:
        raise NmeaError("the sentence holds a control, non-ASCII or reserved character", reason="format")
    if not _HEX2.fullmatch(given):
        raise NmeaError(f"checksum {given!r} is not two hex digits", reason="checksum")
    computed = checksum(body)
    if int(given, 16) != computed:
        raise NmeaError(f"checksum {given.decode()} does not match computed {computed:02X}", reason="checksum")
    return body.decode("ascii")


def _gga(raw: bytes, talker: str, f: list[str]) -> Sentence:
    """GGA: time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude, M, geoid separation, M, ..."""
    _need(f, 10, "GGA")
    lat, lon = _position(f[1], f[2], f[3], f[4])
    quality = _integer(f[5], "quality")
    return Sentence(
        raw=raw,
        talker=talker,
        type="GGA",
        time=_time(f[0]),
        date=None,
        lat=lat,
        lon=lon,
        alt=_altitude(f[8], f[9]),
        quality=quality,
        satellites=_integer(f[6], "satellites"),
        hdop=_number(f[7], "hdop", _UNSIGNED),
        valid=quality is not None and quality > 0 and lat is not None,
    )


def _rmc(raw: bytes, talker: str, f: list[str]) -> Sentence:
    """RMC: time, status A/V, lat, N/S, lon, E/W, speed, course, date, variation, E/W, [mode], [nav status]."""
    _need(f, 9, "RMC")
    if f[1] not in ("A", "V"):
        raise NmeaError(f"RMC status {f[1]!r} is not A or V", reason="field")
    lat, lon = _position(f[2], f[3], f[4], f[5])
    mode = f[11] if len(f) > 11 and f[11] else None
    if mode is not None and not _MODE.fullmatch(mode):
        raise NmeaError(f"RMC mode {mode!r} is not a letter", reason="field")
    return Sentence(
        raw=raw,
        talker=talker,
        type="RMC",
        time=_time(f[0]),
        date=_date(f[8]),
        lat=lat,
        lon=lon,
        alt=None,
        quality=None,
        satellites=None,
        hdop=None,
        valid=f[1] == "A" and mode != "N" and lat is not None,
        mode=mode,
    )


_DECODERS: Mapping[str, Callable[[bytes, str, list[str]], Sentence]] = {"GGA": _gga, "RMC": _rmc}


def _need(fields: list[str], count: int, kind: str) -> None:
    if len(fields) < count:
        raise NmeaError(f"{kind} has {len(fields)} fields, needs at least {count}", reason="field")


def _number(text: str, name: str, pattern: re.Pattern[str]) -> float | None:
    if not text:
        return None
    if not pattern.fullmatch(text):
        raise NmeaError(f"{name} {text!r} is not a number", reason="field")
    return float(text)


def _integer(text: str, name: str) -> int | None:
    if not text:
        return None
    if not _INTEGER.fullmatch(text):
        raise NmeaError(f"{name} {text!r} is not an integer", reason="field")
    return int(text)


def _altitude(value: str, unit: str) -> float | None:
    alt = _number(value, "altitude", _SIGNED)
    if alt is not None and unit != "M":
        raise NmeaError(f"altitude unit {unit!r} is not M", reason="field")
    return alt


def _position(lat: str, ns: str, lon: str, ew: str) -> tuple[float | None, float | None]:
    """Both coordinates, or (None, None) when all four fields are empty (no fix)."""
    if not (lat or ns or lon or ew):
        return None, None
    return _angle(lat, ns, _LAT, "NS", 90), _angle(lon, ew, _LON, "EW", 180)


def _angle(text: str, hemisphere: str, pattern: re.Pattern[str], signs: str, limit: int) -> float:
    """``ddmm.mmmm``/``dddmm.mmmm`` and a hemisphere letter to signed decimal degrees."""
    match = pattern.fullmatch(text)
    if match is None or hemisphere not in signs or not hemisphere:
        raise NmeaError(f"coordinate {text!r} {hemisphere!r} is not ddmm.mmmm with {'/'.join(signs)}", reason="field")
    degrees = int(match[1]) + float(match[2]) / 60
    if degrees > limit:
        raise NmeaError(f"coordinate {text!r} is beyond {limit} degrees", reason="field")
    return -degrees if hemisphere == signs[1] else degrees


def _time(text: str) -> time | None:
    if not text:
        return None
    match = _TIME.fullmatch(text)
    if match is None:
        raise NmeaError(f"time {text!r} is not hhmmss.ss", reason="field")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3])
    micros = min(round(float(match[4] or 0) * 1_000_000), 999_999)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise NmeaError(f"time {text!r} is out of range (leap seconds are not supported)", reason="field")
    return time(hours, minutes, seconds, micros)


def _date(text: str) -> date | None:
    if not text:
        return None
    match = _DATE.fullmatch(text)
    if match is None:
        raise NmeaError(f"date {text!r} is not ddmmyy", reason="field")
    yy = int(match[3])
    try:
        return date(1900 + yy if yy >= 80 else 2000 + yy, int(match[2]), int(match[1]))
    except ValueError as exc:
        raise NmeaError(f"date {text!r} does not exist", reason="field") from exc


def sentence_json(item: Item) -> dict[str, Any]:
    """The ``decode`` command's shape: ok, error (reason code or null), type, time, lat, lon, alt, quality, valid."""
    out: dict[str, Any] = dict.fromkeys(("ok", "error", "type", "time", "lat", "lon", "alt", "quality", "valid"))
    out.update(ok=not isinstance(item, BadSentence), valid=False)
    if isinstance(item, BadSentence):
        out["error"] = item.reason
    elif isinstance(item, IgnoredSentence):
        out["type"] = item.address[2:] if item.address[:2] in TALKERS else item.address
    else:
        out.update(type=item.type, time=_iso_time(item), alt=item.alt, quality=item.quality, valid=item.valid)
        out.update(lat=_round(item.lat), lon=_round(item.lon))
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 7)  # 1e-7 degree is about 1 cm


def _iso_time(sentence: Sentence) -> str | None:
    """``1994-11-19T22:54:46Z`` with a date, ``22:54:46Z`` without; fractions without trailing zeros."""
    if sentence.time is None:
        return None
    text = sentence.time.isoformat()
    text = text.rstrip("0") if "." in text else text
    return f"{sentence.date.isoformat()}T{text}Z" if sentence.date else f"{text}Z"


class NmeaStreamDecoder:
    """Turns a byte stream (serial port, file, socket) into sentences, resyncing after garbage.

    Lines end at ``\\n`` and before each ``$``. A line longer than ``max_line`` is reported once as ``overlong``
    (its first ``max_line`` bytes kept as ``raw``) and the rest of it is dropped, so memory stays bounded.
    ``feed``/``flush`` return decoded and bad sentences; ``feed_all``/``flush_all`` also return ignored ones.
    ``ignored`` counts ignored sentences by address.
    """

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.ignored: Counter[str] = Counter()
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[Sentence | BadSentence]:
        return [item for item in self.feed_all(data) if not isinstance(item, IgnoredSentence)]

    def flush(self) -> list[Sentence | BadSentence]:
        return [item for item in self.flush_all() if not isinstance(item, IgnoredSentence)]

    def feed_all(self, data: bytes) -> list[Item]:
        out: list[Item] = []
        start = 0
        for boundary in re.finditer(rb"[\n$]", data):
            self._append(data[start : boundary.start()], out)
            self._end_line(out)
            start = boundary.end() if data[boundary.start()] == 0x0A else boundary.start()
        self._append(data[start:], out)
        return out

    def flush_all(self) -> list[Item]:
        """Decode what is left at the end of the stream (a last line without its terminator)."""
        out: list[Item] = []
        self._end_line(out)
        return out

    def _append(self, piece: bytes, out: list[Item]) -> None:
        if self._discarding or not piece:
            return
        if len(self._buffer) + len(piece) > self.max_line:
            raw = bytes(self._buffer + piece[: self.max_line - len(self._buffer)])
            out.append(BadSentence(raw=raw, reason="overlong", message=f"line longer than {self.max_line} bytes"))
            self._buffer.clear()
            self._discarding = True
            return
        self._buffer += piece

    def _end_line(self, out: list[Item]) -> None:
        line = bytes(self._buffer).rstrip(b"\r")
        self._buffer.clear()
        if self._discarding or not line:
            self._discarding = False
            return
        try:
            item = decode_sentence(line)
        except NmeaError as exc:
            out.append(BadSentence(raw=line, reason=exc.reason, message=str(exc)))
            return
        if isinstance(item, IgnoredSentence):
            self.ignored[item.address] += 1
        out.append(item)
