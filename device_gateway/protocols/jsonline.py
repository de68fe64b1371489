"""JSON readings: the payload schema MQTT monitors publish (documented in docs/protocols.md).

One message is one JSON object, UTF-8::

    {"device": "LYDUST0042", "seq": 1234, "time": "2026-05-12T09:41:07+08:00",
     "readings": [{"code": "a34004", "value": 57.0, "unit": "ug/m3", "flag": "N", "kind": "Rtd"}],
     "position": {"lat": 34.6197, "lon": 112.454, "alt": 141.0}}

- ``device`` (string) and ``seq`` (integer ≥ 0, the device's message counter) are required.
- ``time`` is the device's clock, RFC 3339 **with** an offset (``Z`` or ``+08:00``); a time without one is refused,
  because local time is never to be labelled UTC.
- ``readings`` is a list; a message with a single reading may instead put ``code``, ``value``, ``unit``, ``flag``
  and ``kind`` at the top level. ``code`` is the HJ 212-2017 code; ``value`` a number or null; ``unit`` the
  unit of the value; ``flag`` the HJ 212 data flag (omitted: none stated, so not comparable with limits);
  ``kind`` defaults to ``Rtd``.
- ``position`` (optional) is the monitor's own WGS-84 fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from device_gateway.errors import PayloadError
from evidence.readings import KINDS, Reading, normalize_unit

_READING_FIELDS = {"code", "value", "unit", "flag", "kind"}
_TOP_FIELDS = {"device", "seq", "time", "readings", "position"}


@dataclass(frozen=True)
class JsonMessage:
    device: str
    seq: int
    time: datetime
    time_text: str
    readings: tuple[Reading, ...]
    position: tuple[float, float, float | None] | None


def parse_payload(payload: bytes) -> JsonMessage:
    """Parse one JSON readings message; raise PayloadError naming the first problem."""
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not a JSON object: {exc}", reason="json") from exc
    if not isinstance(document, dict):
        raise PayloadError("payload is not a JSON object", reason="json")
    unknown = set(document) - _TOP_FIELDS - _READING_FIELDS
    if unknown:
        raise PayloadError(f"unknown fields {sorted(unknown)}", reason="field")
    device, seq, time_text = _required(document)
    return JsonMessage(device, seq, _parse_time(time_text), time_text, _readings(document), _position(document))


def encode_payload(
    *, device: str, seq: int, time: datetime, readings: list[Reading], position: tuple[float, float] | None = None
) -> bytes:
    """The payload a monitor sends (used by the simulator and tests)."""
    if time.utcoffset() is None:
        raise PayloadError("device time needs an offset", reason="time")
    document: dict[str, Any] = {
        "device": device,
        "seq": seq,
        "time": time.isoformat(),
        "readings": [
            {"code": r.code, "value": r.value, "unit": r.unit, "flag": r.flag, "kind": r.kind} for r in readings
        ],
    }
    if position is not None:
        document["position"] = {"lat": position[0], "lon": position[1]}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _required(document: Mapping[str, Any]) -> tuple[str, int, str]:
    device, seq, time_text = document.get("device"), document.get("seq"), document.get("time")
    if not isinstance(device, str) or not device.strip():
        raise PayloadError("'device' must be a non-empty string", reason="device")
    if type(seq) is not int or seq < 0:
        raise PayloadError("'seq' must be an integer >= 0", reason="seq")
    if not isinstance(time_text, str):
        raise PayloadError("'time' must be an RFC 3339 string with an offset", reason="time")
    return device.strip(), seq, time_text


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadError(f"'time' {text!r} is not an RFC 3339 date-time", reason="time") from exc
    if moment.utcoffset() is None:
        raise PayloadError(f"'time' {text!r} has no offset; local time is never taken for UTC", reason="time")
    return moment


def _readings(document: Mapping[str, Any]) -> tuple[Reading, ...]:
    if "readings" in document:
        if _READING_FIELDS & set(document):
            raise PayloadError("give either 'readings' or one reading's fields, not both", reason="field")
        entries = document["readings"]
        if not isinstance(entries, list) or not entries:
            raise PayloadError("'readings' must be a non-empty list", reason="readings")
    else:
        entries = [{k: v for k, v in document.items() if k in _READING_FIELDS}]
    return tuple(_reading(entry, number) for number, entry in enumerate(entries, start=1))


def _reading(entry: Any, number: int) -> Reading:
    # Monitors send thousands of these a second: one pass of cheap checks, a precise message only on failure.
    if type(entry) is not dict or not entry.keys() <= _READING_FIELDS:
        raise PayloadError(f"reading {number}: must be an object with {sorted(_READING_FIELDS)}", reason="readings")
    code, value, unit, flag = entry.get("code"), entry.get("value"), entry.get("unit"), entry.get("flag")
    kind = entry.get("kind", "Rtd")
    value_ok = value is None or type(value) is float or type(value) is int
    if not (type(code) is str and code and value_ok and (unit is None or type(unit) is str)):
        raise _reading_error(entry, number)
    if (flag is not None and (type(flag) is not str or len(flag) != 1)) or kind not in KINDS:
        raise _reading_error(entry, number)
    return Reading(code, kind, None if value is None else float(value), flag, None, normalize_unit(unit))


def _reading_error(entry: dict[str, Any], number: int) -> PayloadError:
    """Which field of a reading is wrong, said precisely (the fast path only knows that one is)."""
    where = f"reading {number}"
    code, value, unit, flag = entry.get("code"), entry.get("value"), entry.get("unit"), entry.get("flag")
    kind = entry.get("kind", "Rtd")
    if not isinstance(code, str) or not code:
        return PayloadError(f"{where}: 'code' must be a non-empty string", reason="code")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return PayloadError(f"{where}: 'value' must be a number or null", reason="value")
    if unit is not None and not isinstance(unit, str):
        return PayloadError(f"{where}: 'unit' must be a string", reason="unit")
    if flag is not None and (not isinstance(flag, str) or len(flag) != 1):
        return PayloadError(f"{where}: 'flag' must be one letter", reason="flag")
    return PayloadError(f"{where}: 'kind' {kind!r} is not one of {sorted(KINDS)}", reason="kind")


def _position(document: Mapping[str, Any]) -> tuple[float, float, float | None] | None:
    position = document.get("position")
    if position is None:
        return None
    if not isinstance(position, dict):
        raise PayloadError("'position' must be an object with lat and lon", reason="position")
    lat, lon, alt = (_number_or_none(position.get(name)) for name in ("lat", "lon", "alt"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PayloadError("'position' needs lat in [-90, 90] and lon in [-180, 180]", reason="position")
    if alt is None and position.get("alt") is not None:
        raise PayloadError("'position' alt must be a number", reason="position")
    return lat, lon, alt


def _number_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
