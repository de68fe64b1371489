"""Modbus RTU codec: instrument register maps as data, register decoding, read planning (pure).

A *register map* (``device_gateway/registermaps/<name>.toml``, format in ``docs/protocols.md``) says where an
instrument keeps each value: function (``holding`` = FC3, ``input`` = FC4), 0-based PDU address, type (INT16,
UINT16, INT32, UINT32, FLOAT32), byte order inside a register and word order across registers (ABCD = big/big,
CDAB = big/little, BADC = little/big, DCBA = little/little), ``value = raw * scale + offset``, the HJ 212
pollutant code and the unit. Loading validates everything and raises :class:`ConfigError` naming the problem.

Decoding: scale and offset are applied in decimal arithmetic, and FLOAT32 values are reported as the shortest
decimal that maps back to the same float32 (``0x40E33333`` is ``7.1``, not ``7.099999904632568``), so
:func:`encode_register` inverts :func:`decode_register` exactly. NaN and infinities decode to ``None``.

Evidence: a poll of one unit yields the RTU response frames (ADUs) exactly as received, concatenated in
:func:`read_plan` order. Every ADU is self-delimiting (unit, function, byte count or exception code, data,
CRC-16/MODBUS low byte first), so :func:`split_frames` recovers them and :func:`decode_frames` re-derives the
readings from the evidence bytes alone. The RTU frames themselves (CRC, requests, responses) are in
:mod:`device_gateway.protocols.modbus_frames`; everything public there is importable from here too.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import struct
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from device_gateway.errors import ConfigError, ModbusError
from device_gateway.protocols.modbus_frames import (
    FUNCTIONS,
    ResponseFrame,
    crc16_modbus,
    find_response_frame,
    parse_response,
    request_frame,
    split_frames,
)
from evidence.readings import Reading, normalize_unit

__all__ = [
    "FORMAT", "FUNCTIONS", "MAX_READ", "ORDERS", "TYPES", "Register", "RegisterMap", "ResponseFrame",
    "crc16_modbus", "decode", "decode_frames", "decode_raw", "decode_register", "encode_register",
    "find_response_frame", "load_map", "parse_map", "parse_response", "read_plan", "request_frame",
    "shipped_maps", "split_frames",
]  # fmt: skip

# type -> (struct code, registers); order shorthand -> (byte order in a register, word order across registers)
TYPES = {"INT16": ("h", 1), "UINT16": ("H", 1), "INT32": ("i", 2), "UINT32": ("I", 2), "FLOAT32": ("f", 2)}
ORDERS = {"ABCD": ("big", "big"), "CDAB": ("big", "little"), "BADC": ("little", "big"), "DCBA": ("little", "little")}
MAX_READ = 125  # registers per FC3/FC4 request (Modbus application protocol v1.1b3, 6.3/6.4)

FORMAT = "fieldproof-modbus-map/1"
_REQUIRED: Any = object()
_KIND_NAMES: dict[type | tuple[type, ...], str] = {str: "a string", int: "an integer", (int, float): "a number"}
_KIND_NAMES |= {bool: "true or false", dict: "a table", list: "an array of tables"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_CODE = re.compile(r"[a-z][a-z0-9]{5}")
_MAP_KEYS = {"format", "name", "title", "source", "source_url", "example", "serial", "max_gap", "max_block"}
_MAP_KEYS |= {"defaults", "registers"}
_REGISTER_KEYS = {"name", "address", "count", "type", "order", "byte_order", "word_order", "scale", "offset"}
_REGISTER_KEYS |= {"code", "unit", "function", "note", "sample"}
_DEFAULT_KEYS = _REGISTER_KEYS - {"name", "address", "count", "code", "note", "sample"}


@dataclass(frozen=True)
class Register:
    """One value in an instrument's register space. ``address`` is the 0-based PDU address."""

    name: str
    address: int
    count: int
    type: str
    byte_order: str
    word_order: str
    scale: float
    offset: float
    code: str
    unit: str
    function: str
    note: str = ""
    sample: float = 0.0  # a plausible value, used by the simulator and the demo

    @property
    def end(self) -> int:
        """The first address after this register."""
        return self.address + self.count


@dataclass(frozen=True)
class RegisterMap:
    """An instrument type's register map. ``example`` marks maps (or parts) not taken from a device document."""

    name: str
    title: str
    source: str
    registers: tuple[Register, ...]
    source_url: str = ""
    example: bool = False
    serial: str = ""  # the instrument's documented serial defaults, e.g. "19200 8E1" (informational)
    max_gap: int = 0  # unused registers a merged read may span (only where the device allows reading them)
    max_block: int = MAX_READ

    def register(self, name: str) -> Register:
        """The register called ``name``; ConfigError if there is none."""
        for register in self.registers:
            if register.name == name:
                return register
        raise ConfigError(f"register map {self.name}: no register named {name!r}")


# --- loading and validation -------------------------------------------------------------------------------


def shipped_maps() -> list[str]:
    """Names of the register maps shipped with the gateway."""
    folder = resources.files("device_gateway") / "registermaps"
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".toml"))


def load_map(name_or_path: str) -> RegisterMap:
    """A shipped map by name (``insitu-aqua-troll-400``) or a ``.toml`` file; ConfigError for any invalid map."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"register map {name_or_path}: cannot read file ({exc.strerror})") from exc
        return parse_map(text, default_name=path.stem)
    if name_or_path not in shipped_maps():
        raise ConfigError(f"no shipped register map {name_or_path!r}; shipped: {', '.join(shipped_maps())}")
    resource = resources.files("device_gateway") / "registermaps" / f"{name_or_path}.toml"
    return parse_map(resource.read_text(encoding="utf-8"), default_name=name_or_path)


def parse_map(text: str, *, default_name: str = "unnamed") -> RegisterMap:
    """Parse and validate a register map from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"register map {default_name}: not valid TOML ({exc})") from exc
    where = f"register map {data.get('name', default_name)}"
    _check_keys(data, _MAP_KEYS, where)
    if _get(data, "format", where, str, FORMAT) != FORMAT:
        raise ConfigError(f"{where}: unknown format {data['format']!r}")
    defaults = _get(data, "defaults", where, dict, {})
    _check_keys(defaults, _DEFAULT_KEYS, f"{where}: defaults")
    entries = _get(data, "registers", where, list)
    if not entries or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(f"{where}: registers must be one or more [[registers]] tables")
    register_map = RegisterMap(
        name=_name(_get(data, "name", where, str, default_name), where),
        title=_nonempty(_get(data, "title", where, str), "title", where),
        source=_nonempty(_get(data, "source", where, str), "source", where),
        registers=tuple(_register(where, {**defaults, **entry}) for entry in entries),
        source_url=_get(data, "source_url", where, str, ""),
        example=_get(data, "example", where, bool, False),
        serial=_get(data, "serial", where, str, ""),
        max_gap=_bounded(_get(data, "max_gap", where, int, 0), "max_gap", where, 0, MAX_READ - 1),
        max_block=_bounded(_get(data, "max_block", where, int, MAX_READ), "max_block", where, 2, MAX_READ),
    )
    _check_layout(register_map)
    return register_map


def _register(map_where: str, entry: dict[str, Any]) -> Register:
    where = f"{map_where}: register {entry.get('name', '?')!r}"
    _check_keys(entry, _REGISTER_KEYS, where)
    kind = _get(entry, "type", where, str)
    if kind not in TYPES:
        raise ConfigError(f"{where}: type {kind!r} is not one of {', '.join(TYPES)}")
    count = _get(entry, "count", where, int, TYPES[kind][1])
    if count != TYPES[kind][1]:
        raise ConfigError(f"{where}: count {count} does not match type {kind} ({TYPES[kind][1]} register(s))")
    function = _get(entry, "function", where, str, "holding")
    if function not in FUNCTIONS:
        raise ConfigError(f"{where}: function {function!r} is not 'holding' (FC3) or 'input' (FC4)")
    scale = _number(entry, "scale", where, 1.0)
    if scale == 0:
        raise ConfigError(f"{where}: scale must not be zero")
    code = _get(entry, "code", where, str)
    if not _CODE.fullmatch(code):
        raise ConfigError(f"{where}: code {code!r} is not an HJ 212 pollutant code such as w01001")
    return Register(
        name=_name(_get(entry, "name", where, str), where),
        address=_bounded(_get(entry, "address", where, int), "address", where, 0, 0x10000 - count),
        count=count,
        type=kind,
        **_orders(entry, where),
        scale=scale,
        offset=_number(entry, "offset", where, 0.0),
        code=code,
        unit=normalize_unit(_nonempty(_get(entry, "unit", where, str), "unit", where)) or "",
        function=function,
        note=_get(entry, "note", where, str, ""),
        sample=_number(entry, "sample", where, 0.0),
    )


def _orders(entry: Mapping[str, Any], where: str) -> dict[str, str]:
    order = _get(entry, "order", where, str, "ABCD")
    if order not in ORDERS:
        raise ConfigError(f"{where}: order {order!r} is not one of {', '.join(ORDERS)}")
    chosen = {}
    for key, implied in zip(("byte_order", "word_order"), ORDERS[order], strict=True):
        value = _get(entry, key, where, str, implied)
        if value not in ("big", "little"):
            raise ConfigError(f"{where}: {key} {value!r} is not 'big' or 'little'")
        if "order" in entry and value != implied:
            raise ConfigError(f"{where}: {key} {value!r} contradicts order {order!r}")
        chosen[key] = value
    return chosen


def _check_layout(register_map: RegisterMap) -> None:
    """Names and codes unique; no two registers of one function share an address."""
    where = f"register map {register_map.name}"
    owners: dict[str, str] = {}
    for register in register_map.registers:
        for key in (f"name {register.name}", f"code {register.code}"):
            if key in owners:
                raise ConfigError(f"{where}: {key} is used by both {owners[key]!r} and {register.name!r}")
            owners[key] = register.name
    ordered = sorted(register_map.registers, key=lambda r: (r.function, r.address))
    for before, after in itertools.pairwise(ordered):
        if before.function == after.function and after.address < before.end:
            raise ConfigError(
                f"{where}: registers {before.name!r} ({before.address}-{before.end - 1}) and {after.name!r} "
                f"({after.address}-{after.end - 1}) overlap in the {after.function} registers"
            )


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _get(
    table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any = _REQUIRED
) -> Any:
    """``table[key]`` checked to be a ``kind`` (bools are not numbers), or ``default``; ConfigError if missing."""
    value = table.get(key, default)
    if value is _REQUIRED:
        raise ConfigError(f"{where}: missing {key}")
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {_KIND_NAMES[kind]}, not {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = _get(table, key, where, (int, float), default)
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be finite, not {value!r}")
    return float(value)


def _bounded(value: int, key: str, where: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ConfigError(f"{where}: {key} {value} is not in {low}..{high}")
    return value


def _nonempty(value: str, key: str, where: str) -> str:
    if not value.strip():
        raise ConfigError(f"{where}: {key} must not be empty")
    return value


def _name(value: str, where: str) -> str:
    if not _NAME.fullmatch(value):
        raise ConfigError(f"{where}: name {value!r} must be lower-case letters, digits, '-' or '_'")
    return value


# --- register values --------------------------------------------------------------------------------------


def _value_bytes(register: Register, words: Sequence[int]) -> bytes:
    """The register words rearranged into the value's big-endian bytes (ABCD); an involution on byte strings."""
    ordered = list(words)[::-1] if register.word_order == "little" else list(words)
    order: Literal["big", "little"] = "little" if register.byte_order == "little" else "big"
    return b"".join(word.to_bytes(2, order) for word in ordered)


def _words(register: Register, data: bytes) -> list[int]:
    """The inverse of :func:`_value_bytes`."""
    order: Literal["big", "little"] = "little" if register.byte_order == "little" else "big"
    words = [int.from_bytes(data[i : i + 2], order) for i in range(0, len(data), 2)]
    return words[::-1] if register.word_order == "little" else words


def decode_raw(register: Register, words: Sequence[int]) -> int | float:
    """The raw number in the words, before scale and offset; ModbusError for a wrong word count or word."""
    if len(words) != register.count or any(not 0 <= word <= 0xFFFF for word in words):
        raise ModbusError(f"register {register.name}: expected {register.count} 16-bit word(s), got {list(words)}")
    (raw,) = struct.unpack(">" + TYPES[register.type][0], _value_bytes(register, words))
    return _shortest_float32(raw) if register.type == "FLOAT32" else int(raw)


def decode_register(register: Register, words: Sequence[int]) -> float | None:
    """The engineering value ``raw * scale + offset``; None for NaN or an infinity."""
    raw = decode_raw(register, words)
    if not math.isfinite(raw):
        return None
    if register.scale == 1 and register.offset == 0:
        return float(raw)
    return float(Decimal(repr(raw)) * Decimal(repr(register.scale)) + Decimal(repr(register.offset)))


def encode_register(register: Register, value: float) -> list[int]:
    """The words a device sends for ``value`` (the inverse of :func:`decode_register`); ModbusError if it cannot."""
    code = TYPES[register.type][0]
    try:
        if register.type == "FLOAT32" and not math.isfinite(value):
            return _words(register, struct.pack(">f", value))
        raw = (Decimal(repr(float(value))) - Decimal(repr(register.offset))) / Decimal(repr(register.scale))
        number: int | float = float(raw) if code == "f" else int(raw.to_integral_value(ROUND_HALF_EVEN))
        return _words(register, struct.pack(">" + code, number))
    except (struct.error, OverflowError, InvalidOperation) as exc:
        raise ModbusError(f"register {register.name}: {value!r} does not fit {register.type}", reason="range") from exc


def _shortest_float32(raw: float) -> float:
    """The shortest decimal that is the same float32 as ``raw``."""
    if not math.isfinite(raw):
        return raw
    packed = struct.pack(">f", raw)
    for digits in range(1, 10):
        candidate = float(f"{raw:.{digits}g}")
        with contextlib.suppress(OverflowError):  # rounding up near the float32 maximum
            if struct.pack(">f", candidate) == packed:
                return candidate
    return raw  # pragma: no cover - 9 significant digits always round-trip a float32


def decode(register_map: RegisterMap, blocks: Mapping[tuple[str, int], Sequence[int]]) -> list[Reading]:
    """Readings from the words read per ``(function, start)`` block (as planned by :func:`read_plan`)."""
    readings = []
    for register in register_map.registers:
        words = _slice(register, blocks)
        value = decode_register(register, words)
        readings.append(Reading(register.code, "Rtd", value, "N", unit=register.unit))
    return readings


def _slice(register: Register, blocks: Mapping[tuple[str, int], Sequence[int]]) -> Sequence[int]:
    for (function, start), words in blocks.items():
        if function == register.function and start <= register.address and register.end <= start + len(words):
            return words[register.address - start : register.end - start]
    raise ModbusError(f"register {register.name}: no block read covers {register.function} {register.address}")


def read_plan(register_map: RegisterMap) -> list[tuple[str, int, int]]:
    """The ``(function, start, count)`` reads covering the map: neighbours merged within max_gap/max_block."""
    plan: list[list[Any]] = []
    for register in sorted(register_map.registers, key=lambda r: (r.function, r.address)):
        if plan and plan[-1][0] == register.function:
            _, start, count = plan[-1]
            gap = register.address - (start + count)
            if gap <= register_map.max_gap and register.end - start <= register_map.max_block:
                plan[-1][2] = register.end - start
                continue
        plan.append([register.function, register.address, register.count])
    return [(function, start, count) for function, start, count in plan]


# --- readings from RTU frames -----------------------------------------------------------------------------


def decode_frames(register_map: RegisterMap, raw: bytes, *, unit_id: int | None = None) -> list[Reading]:
    """Re-derive a unit's readings from its evidence bytes (response ADUs in :func:`read_plan` order)."""
    plan = read_plan(register_map)
    frames = [parse_response(frame) for frame in split_frames(raw)]
    if len(frames) != len(plan):
        raise ModbusError(f"{len(frames)} frame(s) for a plan of {len(plan)} read(s)", reason="format")
    blocks: dict[tuple[str, int], Sequence[int]] = {}
    for (function, start, count), frame in zip(plan, frames, strict=True):
        _check_answer(frame, function, count, unit_id)
        blocks[(function, start)] = frame.words
    return decode(register_map, blocks)


def _check_answer(frame: ResponseFrame, function: str, count: int, unit_id: int | None) -> None:
    if frame.exception_code is not None:
        raise ModbusError(f"device answered exception code {frame.exception_code}", reason="exception")
    if frame.function_code != FUNCTIONS[function] or len(frame.words) != count:
        raise ModbusError(f"frame does not answer {function} x{count}", reason="format")
    if unit_id is not None and frame.unit_id != unit_id:
        raise ModbusError(f"frame from unit {frame.unit_id}, expected {unit_id}", reason="format")
