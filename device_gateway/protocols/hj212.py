"""HJ 212-2017 codec (with HJ/T 212-2005 frames): a stream decoder, messages and readings, an encoder, replies.

Frame: ``##`` + 4-digit decimal length of the data segment in UTF-8 bytes + data segment
(``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&``) + 4 hex CRC + ``\\r\\n``.

Design:

- :class:`StreamDecoder` takes bytes as they come (``feed``) and returns every frame it can delimit, valid
  (:class:`Packet`) or not (:class:`BadPacket` with a stable ``reason``). It scans for ``##``; bytes before a
  ``##`` that is not followed by four digits are garbage and are skipped *silently* (only broken frames are
  reported). A frame is checked, in this order: no plausible frame header (``##dddd`` + ``QN=``/``ST=``) inside
  its declared extent (else ``length``: the length is corrupt and the next frame starts there), data segment
  ending in ``&&`` (else ``length``), CRC (``crc``), UTF-8 (``encoding``), header fields and ``CP=&&…&&``
  (``header``). The usual header layout is read with one regex; others (blanks, any order, unknown names,
  ``Flag=5CP=&&`` without its ``;``) by a general parser. After a broken frame it resyncs at the next ``##``
  after the broken frame's start, so a corrupt length never swallows the good frames that follow. A frame
  whose bytes have not all arrived waits (at most 10,011 bytes: a 4-digit length bounds the buffer);
  :meth:`StreamDecoder.flush` reports it as ``truncated``.
- The tail is whatever follows the CRC: ``\\r\\n``, ``\\n``, a lone ``\\r`` (kept as the tail) or nothing (the
  next bytes are ``##`` or garbage). When the buffer ends right after the CRC, or after a lone ``\\r``, the
  frame waits for the next bytes or for ``flush()`` (the serial transport calls it after an idle timeout).
- The CRC is the standard's Appendix A algorithm, not CRC-16/MODBUS (see :mod:`hj212_codes` for how it is
  computed in eight table lookups per frame). The CRC field is compared as a number (either case).
  CRC-16/MODBUS is accepted only for devices that ``crc_for(mn)`` names as ``"modbus"``, and for them only it.
- Messages (:mod:`device_gateway.protocols.hj212_cp`): :func:`message_from_packet` parses the CP into
  :class:`~evidence.readings.Reading` values; :class:`Reassembler` joins split packets (Flag bit 1,
  PNUM/PNO). Flag bit 0 asks for a reply (:func:`reply_for` builds the 9014 data reply, or 9013 for a 1013
  notification); bits 2-7 are the version (0 = 2005, 1 = 2017, 2 = 2025); a frame without Flag is 2005.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from device_gateway.errors import ConfigError, Hj212Error
from device_gateway.protocols.hj212_codes import CRC_KINDS, MAX_DATA_LENGTH, crc_hj212, crc_modbus, map_code
from device_gateway.protocols.hj212_codes import crc as _crc
from device_gateway.protocols.hj212_cp import (
    Message,
    Reassembler,
    encode_readings_cp,
    filled,
    message_from_packet,
    parse_message,
)

__all__ = [
    "BadPacket",
    "Hj212Error",
    "Message",
    "Packet",
    "Reassembler",
    "StreamDecoder",
    "crc_hj212",
    "crc_modbus",
    "encode_frame",
    "encode_readings_cp",
    "map_code",
    "message_from_packet",
    "packet_json",
    "parse_message",
    "reply_9011",
    "reply_9012",
    "reply_for",
]

_VERSIONS: Final = {0: "2005", 1: "2017", 2: "2025"}
_TAILS: Final = (b"\r\n", b"\n", b"\r", b"")
_HEADER_STARTS: Final = (b"QN=", b"ST=")
_INTERACTION_ST: Final = "91"
_HEADER_MN = re.compile(rb"(?:^|;)\s*MN=([^;]*)")
_HEADER_VALUE = re.compile(r"[A-Za-z0-9_.\-]*")  # what the encoder writes in QN, ST, CN, PW and MN


# --- packets -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Packet:
    """One valid wire frame. ``raw`` runs from ``##`` through the CRC and the tail as received."""

    raw: bytes
    data: bytes
    crc_kind: str
    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag: int | None
    version: str
    pnum: int | None
    pno: int | None
    cp: str
    needs_reply: bool

    @property
    def tail(self) -> bytes:
        return self.raw[len(self.data) + 10 :]


@dataclass(frozen=True)
class BadPacket:
    """Bytes that started with ``##`` but are not a valid frame; ``reason`` is a stable code."""

    raw: bytes
    reason: str
    message: str


def _always_hj212(mn: str | None) -> str:
    return "hj212"


class StreamDecoder:
    """Feed bytes, get frames: see the module docstring for resync, tails and the CRC choice."""

    def __init__(self, *, crc_for: Callable[[str | None], str] = _always_hj212) -> None:
        self._crc_for = crc_for
        self._buffer = b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[Packet | BadPacket]:
        self._buffer = self._buffer + data if self._buffer else bytes(data)
        return self._drain(final=False)

    def flush(self) -> list[Packet | BadPacket]:
        """End of input or an idle line: emit the frame waiting for its tail, report a partial one as truncated."""
        return self._drain(final=True)

    @property
    def buffered(self) -> int:
        """Bytes held back, waiting for the rest of a frame (never more than one maximal frame)."""
        return len(self._buffer)

    def _drain(self, *, final: bool) -> list[Packet | BadPacket]:
        buf, pos, items = self._buffer, 0, []
        while True:
            start = buf.find(b"##", pos)
            if start < 0:
                pos = len(buf) - 1 if buf.endswith(b"#") and not final else len(buf)
                break
            step = self._frame_at(buf, start, final)
            if step is None:
                pos = start
                break
            item, pos = step
            if item is not None:
                items.append(item)
        self._buffer = buf[pos:]
        return items

    def _frame_at(self, buf: bytes, start: int, final: bool) -> tuple[Packet | BadPacket | None, int] | None:
        """The frame starting at ``start`` and where scanning resumes; None to wait for more bytes."""
        digits = buf[start + 2 : start + 6]
        if not digits.isdigit():
            partial = len(digits) < 4 and (not digits or digits.isdigit())
            return _incomplete(buf, start, final) if partial else (None, start + 1)
        end = start + 10 + int(digits)
        found = buf.find(b"##", start + 6, end)  # almost always -1: no "##" inside a frame
        inner = -1 if found < 0 else _inner_header(buf, found, min(end, len(buf)))
        if inner >= 0:
            return _bad(buf[start:inner], "length", "a frame header inside the declared length"), inner
        if end > len(buf):
            return _incomplete(buf, start, final)
        tail = _tail(buf, end, final)
        if tail is None:
            return None
        item = self._checked(buf[start : end + len(tail)], buf[start + 6 : end - 4], buf[end - 4 : end])
        if isinstance(item, Packet):
            return item, end + len(tail)
        resync = buf.find(b"##", start + 2, end + 1)  # end + 1: a "##" may straddle the declared end
        return (item, end + len(tail)) if resync < 0 else (_bad(buf[start:resync], item.reason, item.message), resync)

    def _checked(self, raw: bytes, data: bytes, crc_field: bytes) -> Packet | BadPacket:
        if not data.endswith(b"&&"):
            return _bad(raw, "length", "the data segment does not end with && where its declared length ends")
        kind = "hj212" if self._crc_for is _always_hj212 else self._crc_kind(data)
        expected = crc_hj212(data) if kind == "hj212" else crc_modbus(data)
        if crc_field.upper() != b"%04X" % expected:
            shown = crc_field.decode("ascii", "replace")
            return _bad(raw, "crc", f"CRC {shown!r} does not match the data segment (expected the {kind} CRC)")
        try:
            return _packet(raw, data, data.decode("utf-8"), kind)
        except UnicodeDecodeError as exc:
            return _bad(raw, "encoding", f"the data segment is not UTF-8 ({exc.reason} at byte {exc.start})")
        except Hj212Error as exc:
            return _bad(raw, exc.reason, str(exc))

    def _crc_kind(self, data: bytes) -> str:
        kind = self._crc_for(_header_mn(data))
        if kind not in CRC_KINDS:
            raise ConfigError(f"crc_for returned {kind!r}; expected one of {CRC_KINDS}")
        return kind


def _bad(raw: bytes, reason: str, message: str) -> BadPacket:
    return BadPacket(raw, reason, message)


def _incomplete(buf: bytes, start: int, final: bool) -> tuple[BadPacket, int] | None:
    if not final:
        return None
    resync = buf.find(b"##", start + 2)
    stop = len(buf) if resync < 0 else resync
    return _bad(buf[start:stop], "truncated", "the input ended before the frame did"), stop


def _inner_header(buf: bytes, begin: int, stop: int) -> int:
    """Where a plausible frame header (``##dddd`` + ``QN=``/``ST=``) starts in ``buf[begin:stop]``, else -1."""
    found = buf.find(b"##", begin, stop)
    while found >= 0:
        if buf[found + 2 : found + 6].isdigit() and buf[found + 6 : found + 9] in _HEADER_STARTS:
            return found
        found = buf.find(b"##", found + 1, stop)
    return -1


def _tail(buf: bytes, end: int, final: bool) -> bytes | None:
    """The tail after the CRC at ``end``, or None while the next bytes are needed to tell it."""
    following = buf[end : end + 2]
    if following in (b"", b"\r") and not final:
        return None
    if following == b"\r\n":
        return following
    return following[:1] if following[:1] in (b"\n", b"\r") else b""


def _header_mn(data: bytes) -> str | None:
    header = data[: data.find(b"CP=&&")]
    match = _HEADER_MN.search(header)
    return None if match is None else match.group(1).decode("utf-8", "replace").strip()


def _packet(raw: bytes, data: bytes, text: str, crc_kind: str) -> Packet:
    cp_at = text.find("CP=&&")
    if cp_at < 0 or cp_at + 5 > len(text) - 2:
        raise Hj212Error("no CP=&&…&& in the data segment", reason="header")
    qn, st, cn, pw, mn, flag, pnum, pno = _header(text[:cp_at])
    version = "2005" if flag is None else _VERSIONS.get(flag >> 2, "unknown")
    needs_reply = flag is not None and bool(flag & 1)
    return filled(
        Packet,
        raw=raw,
        data=data,
        crc_kind=crc_kind,
        qn=qn,
        st=st,
        cn=cn,
        pw=pw,
        mn=mn,
        flag=flag,
        version=version,
        pnum=pnum,
        pno=pno,
        cp=text[cp_at + 5 : -2],
        needs_reply=needs_reply,
    )


_Header = tuple[str | None, str | None, str | None, str | None, str | None, int | None, int | None, int | None]
_USUAL_HEADER = re.compile(
    r"(?:QN=([^;=\s]*);)?ST=([^;=\s]*);CN=([^;=\s]*);PW=([^;=\s]*);MN=([^;=\s]*);"
    r"(?:Flag=([0-9]{1,3});)?(?:PNUM=([0-9]{1,9});PNO=([0-9]{1,8});)?"
)


def _header(text: str) -> _Header:
    """(QN, ST, CN, PW, MN, Flag, PNUM, PNO) from the text before ``CP=&&``; one regex for the usual layout."""
    usual = _USUAL_HEADER.fullmatch(text)
    if usual is None or (usual.group(6) is not None and int(usual.group(6)) > 255):
        return _any_header(text)
    qn, st, cn, pw, mn, flag, pnum, pno = usual.groups()
    if pnum is None:
        return qn, st, cn, pw, mn, None if flag is None else int(flag), None, None
    return qn, st, cn, pw, mn, None if flag is None else int(flag), int(pnum), int(pno)


def _any_header(text: str) -> _Header:
    """Header fields in any order, with blanks, unknown names or without the last ``;`` (``Flag=5CP=&&``)."""
    pairs = [part.split("=", 1) for part in text.split(";") if part and not part.isspace()]
    for pair in pairs:
        if len(pair) != 2 or not pair[0].strip():
            raise Hj212Error(f"malformed header field {'='.join(pair)!r}", reason="header")
    fields = {key.strip(): value.strip() for key, value in pairs}
    get = fields.get
    flag, pnum, pno = (_int_field(get(name), name) for name in ("Flag", "PNUM", "PNO"))
    if flag is not None and flag > 255:
        raise Hj212Error(f"Flag={flag} is not 0-255", reason="header")
    return get("QN"), get("ST"), get("CN"), get("PW"), get("MN"), flag, pnum, pno


def _int_field(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise Hj212Error(f"{name}={text!r} is not a number", reason="header")
    return int(text)


# --- encoder and replies -----------------------------------------------------------------------------------------


def encode_frame(
    *,
    qn: str | None,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int | None,
    cp: str,
    pnum: int | None = None,
    pno: int | None = None,
    crc_kind: str = "hj212",
    tail: bytes = b"\r\n",
) -> bytes:
    """One frame; QN and Flag are left out when None (2005 style). :class:`Hj212Error` ``encode`` if unwritable."""
    if (pnum is None) != (pno is None) or crc_kind not in CRC_KINDS or tail not in _TAILS or "&&" in cp:
        raise Hj212Error("inconsistent frame parameters (PNUM/PNO, CRC kind, tail or && in CP)", reason="encode")
    if flag is not None and not 0 <= flag <= 255:
        raise Hj212Error(f"Flag {flag} is not 0-255", reason="encode")
    named = (("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", flag), ("PNUM", pnum), ("PNO", pno))
    header = "".join(f"{name}={_header_value(name, value)};" for name, value in named if value is not None)
    data = f"{header}CP=&&{cp}&&".encode()
    if len(data) > MAX_DATA_LENGTH:
        raise Hj212Error(f"data segment of {len(data)} bytes exceeds {MAX_DATA_LENGTH}", reason="length")
    return b"##%04d%s%04X%s" % (len(data), data, _crc(crc_kind, data), tail)


def _header_value(name: str, value: object) -> str:
    text = str(value)
    if not _HEADER_VALUE.fullmatch(text) or (isinstance(value, int) and value < 0):
        raise Hj212Error(f"{name}={text!r} cannot be written in a frame header", reason="encode")
    return text


def reply_for(packet: Packet, *, now: str) -> bytes | None:
    """The upper computer's answer to an upload that asks for one (Flag bit 0): 9014, or 9013 for a 1013 notice.

    None when no reply is asked for, and for interaction commands (9011-9014), which are never answered.
    QN echoes the upload's; ``now`` (``YYYYMMDDhhmmsszzz``) stands in when the upload carried no QN.
    """
    if not packet.needs_reply or (packet.cn or "").startswith("9"):
        return None
    cn = "9013" if packet.cn == "1013" else "9014"
    return _interaction(packet, cn=cn, cp="", qn=packet.qn or now)


def reply_9011(request: Packet, *, qn_rtn: int = 1) -> bytes:
    """The field device's request answer (请求应答) to a request: ``QnRtn`` per HJ 212-2017 table 7."""
    return _interaction(request, cn="9011", cp=f"QnRtn={qn_rtn}", qn=request.qn)


def reply_9012(request: Packet, *, exe_rtn: int = 1) -> bytes:
    """The field device's execution result (执行结果) for a request: ``ExeRtn`` per HJ 212-2017 table 6."""
    return _interaction(request, cn="9012", cp=f"ExeRtn={exe_rtn}", qn=request.qn)


def _interaction(packet: Packet, *, cn: str, cp: str, qn: str | None) -> bytes:
    flag = None if packet.flag is None else packet.flag & 0xFC  # same version, no reply asked, not split
    return encode_frame(
        qn=qn,
        st=_INTERACTION_ST,
        cn=cn,
        pw=packet.pw or "",
        mn=packet.mn or "",
        flag=flag,
        cp=cp,
        crc_kind=packet.crc_kind,
    )


# --- JSON for the decode command ---------------------------------------------------------------------------------


def packet_json(item: Packet | BadPacket | Message) -> dict[str, Any]:
    """The object ``fieldproof gateway decode --protocol hj212`` prints for a frame or a message.

    Keys, always in this order: ok, error, qn, st, cn, mn, flag, version, pnum, pno, data_time, readings. A bad
    frame has ``ok`` false, ``error`` = ``"reason: message"``, every other value null and no readings; so has
    a valid packet whose CP is malformed, except that its (CRC-checked) header values are given.
    """
    if isinstance(item, BadPacket):
        return {"ok": False, "error": f"{item.reason}: {item.message}", **_NO_HEADER, "data_time": None, "readings": []}
    if isinstance(item, Message):
        return _message_json(item)
    try:
        return _message_json(message_from_packet(item))
    except Hj212Error as exc:
        header = _header_json(item, item.pnum, item.pno)
        return {"ok": False, "error": f"{exc.reason}: {exc}", **header, "data_time": None, "readings": []}


def _message_json(message: Message) -> dict[str, Any]:
    first = message.packets[0]
    numbering = (first.pnum, first.pno) if len(message.packets) == 1 else (first.pnum, None)
    return {
        "ok": True,
        "error": None,
        **_header_json(message, *numbering),
        "data_time": message.data_time,
        "readings": [{"code": r.code, "kind": r.kind, "value": r.value, "flag": r.flag} for r in message.readings],
    }


_NO_HEADER: Final = dict.fromkeys(("qn", "st", "cn", "mn", "flag", "version", "pnum", "pno"))


def _header_json(source: Packet | Message, pnum: int | None, pno: int | None) -> dict[str, Any]:
    return {
        "qn": source.qn,
        "st": source.st,
        "cn": source.cn,
        "mn": source.mn,
        "flag": source.flag,
        "version": source.version,
        "pnum": pnum,
        "pno": pno,
    }
