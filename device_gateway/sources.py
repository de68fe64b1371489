"""Source URLs: what ``fieldproof gateway listen SOURCE...`` reads from.

=============================================================  ===============================================
``serial:///dev/ttyUSB0?baud=9600&protocol=hj212``             a monitor on a serial port (or a pty path)
``serial:///dev/ttyUSB2?baud=4800&protocol=nmea``              a GPS receiver
``serial+socket://127.0.0.1:7000?protocol=hj212``              pyserial's ``socket://`` (also ``+loop``, ``+rfc2217``)
``modbus:///dev/ttyUSB1?baud=9600&unit=1,2&map=NAME``          instruments on an RS-485 Modbus RTU bus
``modbus+socket://127.0.0.1:5020?unit=1&map=NAME``             the same over pyserial's ``socket://``
``hj212+tcp://0.0.0.0:9000``                                   listen for HJ 212 data loggers pushing over TCP
``mqtt://user:pass@host:1883/site/+/readings``                 subscribe to a topic filter (QoS 1)
=============================================================  ===============================================

Parameters for device settings (override ``gateway.toml``): ``tz=Asia/Shanghai``, ``crc=modbus`` (only for a
device known to use CRC-16/MODBUS), ``units=a34004:ug/m3,a34002:ug/m3``, ``device=NAME`` (serial and Modbus
devices have no id of their own on the wire). Modbus: ``interval=10`` seconds between polls, ``timeout=1``
second per unit. MQTT: ``client_id=`` (fixed by default, per gateway, so the broker keeps the session).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from device_gateway.config import parse_device_table
from device_gateway.errors import ConfigError

SERIAL_PROTOCOLS = ("hj212", "nmea")
_SCHEMES = {
    "serial": "serial",
    "serial+socket": "serial",
    "serial+loop": "serial",
    "serial+rfc2217": "serial",
    "modbus": "modbus",
    "modbus+socket": "modbus",
    "hj212+tcp": "hj212-tcp",
    "mqtt": "mqtt",
}
_PARAMS = {
    "serial": {"baud", "protocol", "device", "tz", "crc", "units"},
    "modbus": {"baud", "unit", "map", "device", "interval", "timeout", "parity", "stopbits"},
    "hj212-tcp": {"tz", "crc", "units"},
    "mqtt": {"client_id", "tz", "units"},
}


@dataclass(frozen=True)
class SourceSpec:
    label: str  # the URL as given, without a password
    kind: str  # serial, modbus, hj212-tcp, mqtt
    target: str  # pyserial URL, or host:port
    params: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    path: str = ""

    @property
    def host(self) -> str:
        return self.target.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.target.rsplit(":", 1)[1])

    def number(self, name: str, default: float) -> float:
        text = self.params.get(name)
        try:
            return default if text is None else float(text)
        except ValueError as exc:
            raise ConfigError(f"{self.label}: {name}={text!r} is not a number") from exc

    def device_overrides(self) -> dict[str, Any]:
        """The device settings this URL sets (tz, crc, units), validated like gateway.toml's."""
        table: dict[str, Any] = {}
        if "tz" in self.params:
            table["timezone"] = self.params["tz"]
        if "crc" in self.params:
            table["crc"] = self.params["crc"]
        if "units" in self.params:
            table["units"] = _units(self.params["units"], self.label)
        return parse_device_table(table, self.label)


def parse_source(text: str) -> SourceSpec:
    """Parse and validate a SOURCE URL; ConfigError says what is wrong and what would be right."""
    # In MQTT topic filters '#' is the multi-level wildcard, not a URL fragment.
    parts = urlsplit(text.replace("#", "%23") if text.startswith("mqtt:") else text)
    kind = _SCHEMES.get(parts.scheme)
    if kind is None:
        raise ConfigError(f"{text}: unknown source scheme {parts.scheme!r} (use one of {', '.join(_SCHEMES)})")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(params) - _PARAMS[kind]
    if unknown:
        raise ConfigError(f"{text}: unknown parameters {sorted(unknown)} (allowed: {sorted(_PARAMS[kind])})")
    label = _without_password(text, parts.password)
    spec = SourceSpec(
        label, kind, _target(parts, kind, text), params, _opt(parts.username), _opt(parts.password), unquote(parts.path)
    )
    _check(spec)
    return spec


def _target(parts: Any, kind: str, text: str) -> str:
    if parts.scheme in ("serial", "modbus"):
        if not parts.path:
            raise ConfigError(f"{text}: give the device path, e.g. serial:///dev/ttyUSB0")
        return unquote(parts.path)
    if "+" in parts.scheme and kind in ("serial", "modbus"):
        inner = parts.scheme.split("+", 1)[1]
        return f"{inner}://{parts.netloc}{parts.path}"
    if not parts.hostname or parts.port is None:
        raise ConfigError(f"{text}: give host and port, e.g. {parts.scheme}://127.0.0.1:{_default_port(kind)}")
    return f"{parts.hostname}:{parts.port}"


def _check(spec: SourceSpec) -> None:
    if spec.kind == "serial" and spec.params.get("protocol") not in SERIAL_PROTOCOLS:
        raise ConfigError(f"{spec.label}: add protocol=hj212 or protocol=nmea")
    if spec.kind == "modbus" and not (spec.params.get("unit") and spec.params.get("map")):
        raise ConfigError(f"{spec.label}: add unit=N (or N,M,…) and map=NAME (a shipped register map or a .toml)")
    if spec.kind == "mqtt" and not spec.path.lstrip("/"):
        raise ConfigError(f"{spec.label}: give a topic filter, e.g. mqtt://127.0.0.1:1883/site/+/readings")
    for name in ("baud", "interval", "timeout"):
        if name in spec.params:
            spec.number(name, 0)
    spec.device_overrides()


def _units(text: str, label: str) -> dict[str, str]:
    pairs = [part.split(":", 1) for part in text.split(",") if part]
    if any(len(pair) != 2 or not pair[0] or not pair[1] for pair in pairs):
        raise ConfigError(f"{label}: units must look like units=a34004:ug/m3,a34002:ug/m3")
    return dict(pairs)


def _without_password(text: str, password: str | None) -> str:
    return text if not password else text.replace(f":{password}@", ":***@", 1)


def _opt(value: str | None) -> str | None:
    return unquote(value) if value else None


def _default_port(kind: str) -> int:
    return {"mqtt": 1883, "hj212-tcp": 9000}.get(kind, 0)
