"""HJ 212-2017 appendices A and B as code: the check code (CRC) and the pollutant code tables.

**CRC (appendix A).** Not CRC-16/MODBUS: ``crc = (crc >> 8) ^ byte``, then eight steps of "shift right, xor
0xA001 if a 1 fell out", from 0xFFFF, over the data segment; written as four hex digits, high byte first.
Because each step keeps only the register's high byte, the register is really an 8-bit linear state machine
``h = H(h ^ byte)`` with ``H**8`` the identity (found by computing it). So the CRC depends on each byte only
through its position mod 8: :func:`crc_hj212` XOR-folds the data into eight byte lanes with big-integer
arithmetic (C speed, about log2(n/8) operations) and then needs eight table lookups per frame instead of a
Python step per byte. The tests check it against the bit-by-bit algorithm. (The same weakness means the
CRC detects any single corrupted byte, but two identical bit flips eight bytes apart cancel out.)

**Pollutant codes (appendix B).** The table ships as package data (``data/hj212_codes.csv``, derived from
HJ 212-2017 tables B.1 water, B.2 air and B.3 noise). Each row gives the 2017 code, the 2005 code it replaces
where the standard lists one (原编码), the Chinese and English names, and the default units as the standard
writes them. Those units are only defaults: a reading's unit comes from the device's channel configuration,
never from this table.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Final

__all__ = [
    "CRC_KINDS",
    "MAX_DATA_LENGTH",
    "PollutantCode",
    "code_info",
    "codes",
    "crc",
    "crc_hj212",
    "crc_modbus",
    "map_code",
    "old_codes",
]

CRC_KINDS: Final = ("hj212", "modbus")
MAX_DATA_LENGTH: Final = 9999  # what four decimal digits can declare; the standard itself allows 1024
_DATA_FILE = "hj212_codes.csv"


# --- CRC (appendix A) -------------------------------------------------------------------------------------------------


def _shift8(value: int) -> int:
    for _ in range(8):
        value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value


_TABLE: Final = tuple(_shift8(byte) for byte in range(256))  # register after 8 steps, from one byte


def _lane_tables() -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """Per lane k: byte → its CRC contribution k bytes before the end; per length mod 8: the 0xFF start's."""
    high = [entry >> 8 for entry in _TABLE]  # the 8-bit transition H; H**8 is the identity
    powers = [list(range(256))]
    for _ in range(7):
        powers.append([high[x] for x in powers[-1]])
    lanes = tuple(tuple(_TABLE[power[x]] for x in range(256)) for power in powers)
    starts = tuple(lanes[(n - 1) % 8][0xFF] for n in range(8))
    return lanes, starts


_LANES, _STARTS = _lane_tables()
_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7 = _LANES


def crc_hj212(data: bytes) -> int:
    """HJ 212 Appendix A CRC of ``data`` (``b"123456789"`` → 0x2F80)."""
    size = len(data)
    if not size:
        return 0xFFFF
    x = _fold64(int.from_bytes(data, "big"), (size + 7) >> 3)
    return (
        _STARTS[size & 7]
        ^ _L0[x & 0xFF]
        ^ _L1[(x >> 8) & 0xFF]
        ^ _L2[(x >> 16) & 0xFF]
        ^ _L3[(x >> 24) & 0xFF]
        ^ _L4[(x >> 32) & 0xFF]
        ^ _L5[(x >> 40) & 0xFF]
        ^ _L6[(x >> 48) & 0xFF]
        ^ _L7[x >> 56]
    )


def _fold64(value: int, words: int) -> int:
    """XOR the 64-bit words of ``value`` together (byte k of the result: bytes k, k+8, k+16... from the end)."""
    masks, known = _MASKS, len(_MASKS)
    while words > 1:
        half = (words + 1) >> 1
        mask = masks[half] if half < known else (1 << (half << 6)) - 1
        value = (value >> (half << 6)) ^ (value & mask)
        words = half
    return value


_MASKS: Final = tuple((1 << (64 * words)) - 1 for words in range((MAX_DATA_LENGTH + 7) // 16 + 2))


def crc_modbus(data: bytes) -> int:
    """CRC-16/MODBUS of ``data`` (``b"123456789"`` → 0x4B37), which some devices use instead."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc(kind: str, data: bytes) -> int:
    """The CRC of ``data`` by kind: ``"hj212"`` (the standard's) or ``"modbus"``."""
    return crc_modbus(data) if kind == "modbus" else crc_hj212(data)


# --- pollutant codes (appendix B) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollutantCode:
    """One row of HJ 212-2017 table B.1, B.2 or B.3."""

    table: str
    code: str
    code_2005: str | None
    name_zh: str
    name_en: str
    unit: str | None
    emission_unit: str | None
    data_type: str | None


@functools.cache
def codes() -> Mapping[str, PollutantCode]:
    """Every code of tables B.1-B.3, by 2017 code."""
    rows = csv.DictReader(line for line in _table_lines() if not line.startswith("#"))
    entries = (_entry(row) for row in rows)
    return MappingProxyType({entry.code: entry for entry in entries})


@functools.cache
def old_codes() -> Mapping[str, str]:
    """HJ/T 212-2005 code → HJ 212-2017 code, for every row that lists a 2005 code."""
    return MappingProxyType({entry.code_2005: entry.code for entry in codes().values() if entry.code_2005})


def map_code(code: str) -> tuple[str, str | None]:
    """``(2017 code, the code as sent)`` for a 2005 code (``"011"`` → ``("w01018", "011")``), else ``(code, None)``."""
    new = _OLD_CODES.get(code)
    return (code, None) if new is None else (new, code)


def code_info(code: str) -> PollutantCode | None:
    """The table row of a 2017 or 2005 code, None for a code the tables do not list."""
    return codes().get(map_code(code)[0])


def _table_lines() -> list[str]:
    text = resources.files("device_gateway.protocols").joinpath("data").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return text.splitlines()


def _entry(row: Mapping[str, str]) -> PollutantCode:
    return PollutantCode(
        table=row["table"],
        code=row["code"],
        code_2005=row["code_2005"] or None,
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        unit=row["unit"] or None,
        emission_unit=row["emission_unit"] or None,
        data_type=row["data_type"] or None,
    )


_OLD_CODES = old_codes()
