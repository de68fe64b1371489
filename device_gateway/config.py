"""The gateway's settings: where its data lives, and what it must know about each device.

One settings object for the gateway (no scattered environment look-ups). The data folder is ``--data DIR``, else
``$FIELDPROOF_GATEWAY_DATA``, else the platform's user data folder. Device settings come from
``DIR/gateway.toml`` (optional)::

    [defaults]
    timezone = "Asia/Shanghai"         # HJ 212 DataTime is local time without a zone: the device's zone is config

    [devices."LD130133000015"]          # by HJ 212 MN, JSON "device", or the name a source gives a device
    timezone = "Asia/Shanghai"
    crc = "modbus"                       # this logger computes CRC-16/MODBUS instead of HJ 212's: accept it
    units = { w01018 = "mg/L", a34004 = "ug/m3" }   # units per channel: they cannot be inferred from the code
    standard = "GB 3838-2002"            # early warning: which national standard and grade apply
    grade = "III"

    [media]                              # camera imports
    drift_threshold_s = 60               # flag a camera clock further than this from GNSS time
    [[media.filename_patterns]]          # a vendor's file names, tried before the built-in patterns
    name = "acme-bodycam"
    regex = '^(?P<device>AC\\d{6})_(?P<time>\\d{14})_(?P<seq>\\d{4})\\.(MP4|JPG)$'
    time_format = "%Y%m%d%H%M%S"

Source URLs may also carry ``units=``, ``tz=`` and ``crc=`` for the devices they read (see ``sources``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from device_gateway.errors import ConfigError
from evidence.errors import InputError
from evidence.metadata.filenames import FilenamePattern, parse_patterns
from evidence.readings import normalize_unit

DATA_ENV = "FIELDPROOF_GATEWAY_DATA"
SETTINGS_FILE = "gateway.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
CRC_KINDS = ("hj212", "modbus")


@dataclass(frozen=True)
class DeviceSettings:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    crc: str = "hj212"
    units: Mapping[str, str] = field(default_factory=dict)
    standard: str | None = None
    grade: str | None = None

    def unit_for(self, code: str) -> str | None:
        return self.units.get(code)

    def merged(self, overrides: Mapping[str, Any]) -> DeviceSettings:
        """These settings with the given ones (already parsed) taking precedence."""
        units = {**self.units, **overrides.get("units", {})}
        rest = {k: v for k, v in overrides.items() if k != "units"}
        return replace(self, units=units, **rest)


@dataclass(frozen=True)
class MediaSettings:
    drift_threshold_s: float = 60.0
    filename_patterns: tuple[FilenamePattern, ...] = ()


@dataclass(frozen=True)
class GatewaySettings:
    data_dir: Path
    defaults: DeviceSettings = field(default_factory=DeviceSettings)
    devices: Mapping[str, DeviceSettings] = field(default_factory=dict)
    media: MediaSettings = field(default_factory=MediaSettings)

    def device(self, device_id: str | None) -> DeviceSettings:
        return self.devices.get(device_id or "", self.defaults)

    def with_overrides(self, overrides: Mapping[str, Any]) -> GatewaySettings:
        """These settings with a source URL's device settings applied to every device it reads."""
        if not overrides:
            return self
        devices = {name: settings.merged(overrides) for name, settings in self.devices.items()}
        return replace(self, defaults=self.defaults.merged(overrides), devices=devices)


def resolve_data_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    from_env = os.environ.get(DATA_ENV)
    if from_env:
        return Path(from_env)
    return Path(platformdirs.user_data_dir("fieldproof", appauthor=False)) / "gateway"


def load_settings(data_dir: Path | None) -> GatewaySettings:
    root = resolve_data_dir(data_dir)
    path = root / SETTINGS_FILE
    if not path.exists():
        return GatewaySettings(root)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    defaults = DeviceSettings().merged(parse_device_table(document.get("defaults", {}), f"{path} [defaults]"))
    devices = {
        name: defaults.merged(parse_device_table(table, f"{path} [devices.{name}]"))
        for name, table in document.get("devices", {}).items()
    }
    return GatewaySettings(root, defaults, devices, _media_settings(document.get("media", {}), f"{path} [media]"))


def _media_settings(table: Any, where: str) -> MediaSettings:
    if not isinstance(table, dict) or set(table) - {"drift_threshold_s", "filename_patterns"}:
        raise ConfigError(f"{where}: known settings are drift_threshold_s and filename_patterns")
    threshold = table.get("drift_threshold_s", 60.0)
    if not isinstance(threshold, int | float) or threshold <= 0:
        raise ConfigError(f"{where}: drift_threshold_s must be a positive number of seconds")
    try:
        patterns = parse_patterns(table.get("filename_patterns", []))
    except InputError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return MediaSettings(float(threshold), tuple(patterns))


def parse_device_table(table: Any, where: str) -> dict[str, Any]:
    """Validate one device table (or source URL parameters) into DeviceSettings fields."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table of settings")
    known = {"timezone", "crc", "units", "standard", "grade"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{where}: unknown settings {sorted(unknown)} (known: {sorted(known)})")
    parsed: dict[str, Any] = {}
    if "timezone" in table:
        parsed["timezone"] = parse_timezone(table["timezone"], where)
    if "crc" in table:
        if table["crc"] not in CRC_KINDS:
            raise ConfigError(f"{where}: crc must be one of {CRC_KINDS}, not {table['crc']!r}")
        parsed["crc"] = table["crc"]
    if "units" in table:
        parsed["units"] = _parse_units(table["units"], where)
    for name in ("standard", "grade"):
        if name in table:
            parsed[name] = str(table[name])
    return parsed


def parse_timezone(name: Any, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{where}: unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from exc


def _parse_units(units: Any, where: str) -> dict[str, str]:
    if not isinstance(units, dict) or not all(isinstance(v, str) for v in units.values()):
        raise ConfigError(f"{where}: units must map channel codes to unit names")
    return {str(code): normalize_unit(unit) or unit for code, unit in units.items()}
