"""HJ 212 messages: the CP data area (``CP=&&…&&``) parsed into readings, and split packets reassembled.

CP grammar (HJ 212-2017 §6.3.3): ``key=value`` pairs, ``,`` between the values of one item and ``;`` between
items. A key ``code-Kind`` (``w01018-Rtd``) is a pollutant value when Kind is one of :data:`READING_KINDS`;
``code-Flag`` is the data flag of every value of that code in the same CP; ``DataTime`` is the data's device
time (local, no zone); every other pair (``RtdInterval``, ``PolId``, ``w01018-SampleTime``, ``w01018-EFlag``...)
is kept in :attr:`Message.fields`. Log text between ``//`` and ``//`` (``i11001-Info=//清洗;管路//``) may
contain separators. Values that are not numbers become ``Reading.value`` None (their text is also kept in
``fields``); a pair without ``=`` or with two ``=`` (a missing separator) makes the whole CP malformed:
:class:`Hj212Error` with reason ``cp``. HJ/T 212-2005 codes are mapped to 2017 codes (``original_code`` keeps
the code as sent).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from device_gateway.errors import Hj212Error
from device_gateway.protocols.hj212_codes import old_codes
from evidence.readings import Reading

if TYPE_CHECKING:
    from device_gateway.protocols.hj212 import Packet

__all__ = [
    "READING_KINDS",
    "CpContent",
    "Message",
    "Reassembler",
    "encode_readings_cp",
    "message_from_packet",
    "parse_cp",
    "parse_message",
]

# Value kinds of HJ 212-2017 table 4 (字段对照表) that carry a measured value; SB-RS/RT are treatment facilities.
READING_KINDS = frozenset(
    {"Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "Data", "DayData", "NightData"}
    | {"Info", "RS", "RT"}
)
_PAIR_TEXT = re.compile(r"(?://.*?//|[^;,])+", re.DOTALL)  # a pair, with //log text// kept whole
_SIMPLE_CP = re.compile(r"(?:[^;,=\s/]+=[^;,=\s/]*(?:[;,]|\Z))*")  # key=value pairs, one separator between
_CODE = re.compile(r"[A-Za-z0-9]+")
_EMPTY: Mapping[str, str] = MappingProxyType({})
_OLD_CODES = old_codes()
_T = TypeVar("_T")


@dataclass(frozen=True)
class CpContent:
    """What one CP holds: the data time, the readings and the other fields."""

    data_time: str | None
    readings: tuple[Reading, ...]
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Message:
    """One HJ 212 command: a single packet, or the packets of a split set in PNO order."""

    packets: tuple[Packet, ...]
    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag: int | None
    version: str
    data_time: str | None
    readings: tuple[Reading, ...]
    fields: Mapping[str, str]


def parse_cp(cp: str) -> CpContent:
    """Parse a CP data area (the text between ``CP=&&`` and ``&&``); :class:`Hj212Error` ``cp`` if malformed."""
    return CpContent(*_parse_cp(cp))


def parse_message(packets: Sequence[Packet]) -> Message:
    """The message of one packet or of a whole split set (given in PNO order); ``cp`` error if a CP is malformed."""
    if not packets:
        raise Hj212Error("a message needs at least one packet", reason="cp")
    if len(packets) == 1:
        return message_from_packet(packets[0])
    first = packets[0]
    data_time, readings, fields = _parse_set(packets)
    return filled(
        Message,
        packets=tuple(packets),
        qn=first.qn,
        st=first.st,
        cn=first.cn,
        pw=first.pw,
        mn=first.mn,
        flag=first.flag,
        version=first.version,
        data_time=data_time,
        readings=readings,
        fields=fields,
    )


def message_from_packet(packet: Packet) -> Message:
    """The message of one packet (for a split set, :class:`Reassembler` or :func:`parse_message`)."""
    data_time, readings, fields = _parse_cp(packet.cp)
    return filled(
        Message,
        packets=(packet,),
        qn=packet.qn,
        st=packet.st,
        cn=packet.cn,
        pw=packet.pw,
        mn=packet.mn,
        flag=packet.flag,
        version=packet.version,
        data_time=data_time,
        readings=readings,
        fields=fields,
    )


def encode_readings_cp(data_time: str, readings: Sequence[Reading]) -> str:
    """``DataTime=…;code-Kind=value,…,code-Flag=F;…``: one item per code (as sent: ``original_code`` if set)."""
    groups: dict[str, list[Reading]] = {}
    for reading in readings:
        groups.setdefault(reading.original_code or reading.code, []).append(reading)
    items = [f"DataTime={_checked_token(data_time, 'DataTime')}"]
    items += [_encode_item(code, group) for code, group in groups.items()]
    return ";".join(items)


class Reassembler:
    """Split packets (Flag bit 1 with PNUM/PNO) → one :class:`Message`; every other packet passes straight through.

    A set is keyed by (MN, ST, CN, PNUM): the standard gives each packet of a set its own QN. Packets may
    arrive in any order; an exact duplicate (same PNO, same bytes, also just after its set completed) is
    dropped; a different packet with a PNO already held means a new set began, so the old one is abandoned.
    PNUM may not exceed ``max_packets`` (else :class:`Hj212Error` ``split``). Memory is bounded: at most
    ``max_sets`` sets pend and at most ``max_held`` packets are held in all; past either, the least recently
    active set is abandoned. Abandoned sets wait in :meth:`expire` (the oldest are forgotten past
    ``max_held``), which also hands back pending sets idle since before a given time. Nothing is lost here:
    the caller stored every packet's raw bytes as they came from the decoder, and only builds messages here.
    """

    def __init__(self, *, max_sets: int = 32, max_packets: int = 999, max_held: int = 4096) -> None:
        self._max_sets, self._max_packets, self._max_held = max_sets, max_packets, max_held
        self._sets: OrderedDict[tuple[object, ...], _PendingSet] = OrderedDict()
        self._abandoned: list[tuple[Packet, ...]] = []
        self._completed: OrderedDict[bytes, None] = OrderedDict()  # data of recently completed sets' packets

    def add(self, packet: Packet, *, at: float = 0.0) -> Message | None:
        """The message this packet completes (itself when not split), else None; ``at`` is for :meth:`expire`."""
        if not _is_split(packet) or packet.pnum is None or packet.pno is None:
            return message_from_packet(packet)
        if not 1 <= packet.pno <= packet.pnum <= self._max_packets:
            raise Hj212Error(f"PNO {packet.pno} of PNUM {packet.pnum} is out of range", reason="split")
        if packet.data in self._completed:
            return None
        key = _set_key(packet)
        pending = self._pending_for(key, packet)
        pending.packets[packet.pno] = packet
        pending.last_at = at
        if len(pending.packets) == packet.pnum:
            return self._complete(key, pending)
        self._trim()
        return None

    def pending(self) -> list[tuple[Packet, ...]]:
        """The incomplete sets still waiting for packets (left in place), each in PNO order."""
        return [pending.ordered() for pending in self._sets.values()]

    def expire(self, *, before: float | None = None) -> list[tuple[Packet, ...]]:
        """Remove and return abandoned sets and pending sets whose last packet came before ``before`` (all if None)."""
        stale = [key for key, pending in self._sets.items() if before is None or pending.last_at < before]
        expired = self._abandoned + [self._sets.pop(key).ordered() for key in stale]
        self._abandoned = []
        return expired

    def _pending_for(self, key: tuple[object, ...], packet: Packet) -> _PendingSet:
        pending = self._sets.get(key)
        held = None if pending is None or packet.pno is None else pending.packets.get(packet.pno)
        if pending is not None and held is not None and held.data != packet.data:
            self._abandoned.append(self._sets.pop(key).ordered())
            pending = None
        if pending is None:
            if len(self._sets) >= self._max_sets:
                self._abandoned.append(self._sets.popitem(last=False)[1].ordered())
            pending = self._sets[key] = _PendingSet()
        self._sets.move_to_end(key)
        return pending

    def _complete(self, key: tuple[object, ...], pending: _PendingSet) -> Message:
        del self._sets[key]
        packets = pending.ordered()
        for packet in packets:
            self._completed[packet.data] = None
        while len(self._completed) > self._max_held:
            self._completed.popitem(last=False)
        return parse_message(packets)

    def _trim(self) -> None:
        """Forget the oldest abandoned sets, then abandon the least recently active, while too much is held."""
        held = sum(len(packets) for packets in self._abandoned) + sum(len(p.packets) for p in self._sets.values())
        while held > self._max_held and (self._abandoned or len(self._sets) > 1):
            dropped = self._abandoned.pop(0) if self._abandoned else ()
            if not dropped:
                self._abandoned.append(self._sets.popitem(last=False)[1].ordered())
            held -= len(dropped)


class _PendingSet:
    def __init__(self) -> None:
        self.packets: dict[int, Packet] = {}
        self.last_at = 0.0

    def ordered(self) -> tuple[Packet, ...]:
        return tuple(self.packets[pno] for pno in sorted(self.packets))


def _is_split(packet: Packet) -> bool:
    return packet.flag is not None and bool(packet.flag & 2)


def _set_key(packet: Packet) -> tuple[object, ...]:
    return (packet.mn, packet.st, packet.cn, packet.pnum)


def _parse_cp(cp: str) -> tuple[str | None, tuple[Reading, ...], Mapping[str, str]]:
    """(DataTime, readings, other fields) of one CP. Written for speed: it runs once per received frame."""
    data_time: str | None = None
    values: list[tuple[str, str, str]] = []
    flags: dict[str, str] = {}
    fields: dict[str, str] = {}
    kinds = READING_KINDS
    keys, texts = _keys_and_values(cp)
    for key, value in zip(keys, texts, strict=False):  # a trailing separator can leave one key more
        code, _, kind = key.partition("-")
        if kind in kinds and code:
            values.append((code, kind, value))
        elif kind == "Flag" and code:
            flags[code] = value
        elif key == "DataTime":
            data_time = value
        else:
            fields[key] = value
    readings = _readings(values, flags, fields)
    return data_time, readings, MappingProxyType(fields) if fields else _EMPTY


def _keys_and_values(cp: str) -> tuple[list[str], list[str]]:
    """The keys and the values of a CP's pairs; :class:`Hj212Error` ``cp`` for a pair without ``=`` or with two."""
    if _SIMPLE_CP.fullmatch(cp):
        flat = cp.replace(",", ";").replace("=", ";").split(";")
        return flat[0::2], flat[1::2]
    pairs = _careful_pairs(cp)
    return [key for key, _ in pairs], [value for _, value in pairs]


def _careful_pairs(cp: str) -> list[tuple[str, str]]:
    """Pairs of a CP with blanks, empty items, ``/`` or //log text// (whose separators are not separators)."""
    pairs = []
    for text in _PAIR_TEXT.findall(cp) if "//" in cp else cp.replace(",", ";").split(";"):
        key, sep, value = (part.strip() for part in text.partition("="))
        if not (sep or key):
            continue
        if not sep or not key or ("=" in value and not value.startswith("//")):
            raise Hj212Error(f"malformed CP field {text!r} (a missing separator or '=')", reason="cp")
        pairs.append((key, value))
    return pairs


def _readings(values: list[tuple[str, str, str]], flags: dict[str, str], fields: dict[str, str]) -> tuple[Reading, ...]:
    """Readings of (code, kind, text) triples with their code's flag, 2005 codes mapped to 2017 codes."""
    readings = []
    old_codes, build, flag_of = _OLD_CODES, Reading, flags.get
    for code, kind, text in values:
        try:
            value: float | None = float(text)
        except ValueError:
            value = None
        if value is None or value - value != 0 or "_" in text:  # value - value is nan for inf and nan
            value = None
            _keep_text(code, kind, text, fields)
        if code in old_codes:
            readings.append(build(old_codes[code], kind, value, flag_of(code) or None, code))
        else:
            readings.append(build(code, kind, value, flag_of(code) or None, None))
    return tuple(readings)


def _keep_text(code: str, kind: str, text: str, fields: dict[str, str]) -> None:
    """A value that is no number is kept as text in the message's fields (its reading's value is None)."""
    if text:
        fields[f"{code}-{kind}"] = text


def filled(cls: type[_T], **attributes: object) -> _T:
    """An instance of one of our plain frozen dataclasses (no slots, no ``__post_init__``), given every field.

    It is what ``cls(**attributes)`` makes, at a third of the cost: the generated ``__init__`` of a frozen
    dataclass calls ``object.__setattr__`` once per field, which showed in the decode benchmark.
    """
    instance: _T = _new_object(cls)
    instance.__dict__.update(attributes)
    return instance


_new_object = object.__new__


def _parse_set(packets: Sequence[Packet]) -> tuple[str | None, tuple[Reading, ...], Mapping[str, str]]:
    contents = [_parse_cp(packet.cp) for packet in packets]
    data_time = next((data_time for data_time, _, _ in contents if data_time is not None), None)
    readings = tuple(reading for _, some, _ in contents for reading in some)
    return data_time, readings, _merged(fields for _, _, fields in contents)


def _merged(all_fields: Iterable[Mapping[str, str]]) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for fields in all_fields:
        for key, value in fields.items():
            merged.setdefault(key, value)
    return MappingProxyType(merged)


def _encode_item(code: str, group: Sequence[Reading]) -> str:
    if not _CODE.fullmatch(code):
        raise Hj212Error(f"pollutant code {code!r} cannot be written in a CP", reason="encode")
    flags = {reading.flag for reading in group}
    if len(flags) > 1:
        raise Hj212Error(f"readings of {code} carry different flags {sorted(map(str, flags))}", reason="encode")
    parts = [f"{code}-{_checked_kind(r.kind)}={_format_value(r.value)}" for r in group]
    flag = flags.pop()
    if flag is not None:
        parts.append(f"{code}-Flag={_checked_token(flag, 'flag')}")
    return ",".join(parts)


def _checked_kind(kind: str) -> str:
    if kind not in READING_KINDS:
        raise Hj212Error(f"{kind!r} is not an HJ 212 value kind", reason="encode")
    return kind


def _checked_token(text: str, what: str) -> str:
    if not _CODE.fullmatch(text):
        raise Hj212Error(f"{what} {text!r} cannot be written in a CP", reason="encode")
    return text


def _format_value(value: float | None) -> str:
    """Plain decimal notation that reads back as the same float (``1e-05`` → ``0.00001``); None → empty."""
    if value is None:
        return ""
    if not math.isfinite(value):
        raise Hj212Error(f"{value} cannot be sent as an HJ 212 value", reason="encode")
    text = repr(float(value))
    return format(Decimal(text), "f") if "e" in text else text
