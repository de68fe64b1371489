"""Modbus RTU frames (pure): CRC-16/MODBUS, read requests, and checked FC3/FC4 responses found in received bytes.

An RTU response ADU is self-delimiting: unit, function, then a byte count and that many data bytes (a read) or one
exception code (function | 0x80), then CRC-16/MODBUS low byte first. So :func:`split_frames` recovers the ADUs of
a poll from their concatenation, :func:`parse_response` checks and reads one, and :func:`find_response_frame`
picks the answer out of whatever else the line carried. Register maps and the decoding of the words these frames
carry are in :mod:`device_gateway.protocols.modbus`, which re-exports everything here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from device_gateway.errors import ModbusError

__all__ = [
    "FUNCTIONS", "ResponseFrame", "crc16_modbus", "find_response_frame", "parse_response", "request_frame",
    "split_frames",
]  # fmt: skip

# register-map function name -> Modbus function code (FC3 read holding registers, FC4 read input registers)
FUNCTIONS: Mapping[str, int] = {"holding": 3, "input": 4}


@dataclass(frozen=True)
class ResponseFrame:
    """A checked RTU response: registers read, or the exception code the device answered with."""

    unit_id: int
    function_code: int
    words: tuple[int, ...]
    exception_code: int | None = None


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first. ``b"123456789"`` -> 0x4B37."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def request_frame(unit_id: int, function: str, start: int, count: int) -> bytes:
    """The RTU request ADU for reading ``count`` registers from ``start``."""
    body = bytes([unit_id, FUNCTIONS[function]]) + start.to_bytes(2, "big") + count.to_bytes(2, "big")
    return body + crc16_modbus(body).to_bytes(2, "little")


def _frame_length(data: bytes, offset: int) -> int | None:
    """Length of the response ADU starting at ``offset`` (None if its header is not there or not a read)."""
    if len(data) - offset < 3:
        return None
    function_code = data[offset + 1]
    if function_code in (0x83, 0x84):
        return 5
    if function_code in (3, 4):
        return 5 + data[offset + 2]
    return None


def parse_response(frame: bytes) -> ResponseFrame:
    """Check one response ADU (length, CRC, byte count) and read it; ModbusError with ``reason`` otherwise."""
    length = _frame_length(frame, 0)
    if length is None or len(frame) != length:
        raise ModbusError(f"not one FC3/FC4 response frame: {frame.hex()}", reason="format")
    if not _crc_ok(frame):
        raise ModbusError(f"CRC mismatch in frame {frame.hex()}", reason="crc")
    if frame[1] & 0x80:
        return ResponseFrame(frame[0], frame[1], (), exception_code=frame[2])
    if frame[2] % 2:
        raise ModbusError(f"odd byte count in frame {frame.hex()}", reason="format")
    words = tuple(int.from_bytes(frame[i : i + 2], "big") for i in range(3, len(frame) - 2, 2))
    return ResponseFrame(frame[0], frame[1], words)


def split_frames(raw: bytes) -> list[bytes]:
    """The response ADUs concatenated in ``raw``; ModbusError if it is not a clean sequence of valid frames."""
    frames, offset = [], 0
    while offset < len(raw):
        length = _frame_length(raw, offset)
        if length is None or offset + length > len(raw):
            raise ModbusError(f"truncated or unknown frame at byte {offset}", reason="format")
        frames.append(raw[offset : offset + length])
        parse_response(frames[-1])
        offset += length
    return frames


def find_response_frame(buffer: bytes, unit_id: int, function: str) -> bytes | None:
    """The first valid response ADU from ``unit_id`` to ``function`` inside received bytes, if any."""
    codes = {FUNCTIONS[function], FUNCTIONS[function] | 0x80}
    for offset in range(len(buffer) - 4):
        if buffer[offset] != unit_id or buffer[offset + 1] not in codes:
            continue
        length = _frame_length(buffer, offset) or 0
        candidate = buffer[offset : offset + length]
        if length and len(candidate) == length and _crc_ok(candidate):
            return candidate
    return None


def _crc_ok(frame: bytes) -> bool:
    return crc16_modbus(frame[:-2]) == int.from_bytes(frame[-2:], "little")
