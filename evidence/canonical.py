"""Canonical JSON per RFC 8785 (JSON Canonicalization Scheme): the single encoder for anything hashed or signed.

Two parties who canonicalize the same JSON value get the same bytes, so a hash or signature over those bytes
can be checked years later by an independent implementation. The rules, in short: no whitespace; object members
sorted by the UTF-16 code units of their names; strings escaped minimally (only ``"``, ``\\`` and control
characters) and emitted as UTF-8; numbers written as ECMAScript's ``Number.prototype.toString`` writes IEEE 754
doubles. Values without a canonical form (NaN, infinities, integers beyond 2**53, lone surrogates, non-string
keys, duplicate names on input) are refused with ``CanonicalJSONError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from evidence.errors import CanonicalJSONError

# JSON numbers are IEEE 754 doubles (RFC 8785 §3.2.2.3): every integer up to 2**53 in magnitude is exact and
# prints as its own digits; beyond it, distinct integers share a double and would not survive a round trip.
MAX_EXACT_INTEGER = 2**53

__all__ = ["MAX_EXACT_INTEGER", "canonical_bytes", "canonical_text", "is_canonical", "loads"]


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value built from dict, list, str, int, float, bool, None."""
    text = canonical_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("string contains a lone surrogate, which has no UTF-8 form") from exc


def canonical_text(value: Any) -> str:
    """Return the canonical form as a str (see ``canonical_bytes``)."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def loads(data: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8 only, no duplicate member names, no NaN or Infinity literals."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanonicalJSONError(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return json.loads(
            data, object_pairs_hook=_unique_members, parse_constant=_refuse_constant, parse_int=_json_integer
        )
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise CanonicalJSONError("JSON nested too deeply") from exc


def is_canonical(data: bytes) -> bool:
    """Return whether ``data`` is exactly the canonical encoding of the JSON value it holds."""
    try:
        return canonical_bytes(loads(data)) == data
    except CanonicalJSONError:
        return False


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, member in pairs:
        if name in result:
            raise CanonicalJSONError(f"duplicate member name {name!r}")
        result[name] = member
    return result


def _json_integer(text: str) -> int | float:
    # JSON numbers are doubles: an integer literal beyond 2**53 (RFC 8785 prints 1e20 as 100000000000000000000)
    # means the nearest double, as in every JCS implementation.
    value = int(text)
    return value if abs(value) <= MAX_EXACT_INTEGER else float(text)


def _refuse_constant(name: str) -> Any:
    raise CanonicalJSONError(f"{name} is not a JSON number")


def _encode(value: Any, out: list[str]) -> None:
    # bool before int: bool is a subclass of int in Python.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, int):
        out.append(_integer(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        _encode_object(value, out)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        _encode_array(value, out)
    else:
        raise CanonicalJSONError(f"{type(value).__name__} is not a JSON type")


def _encode_object(value: Mapping[Any, Any], out: list[str]) -> None:
    for name in value:
        if not isinstance(name, str):
            raise CanonicalJSONError(f"object member name {name!r} is not a string")
    out.append("{")
    for position, name in enumerate(sorted(value, key=_utf16_order)):
        if position:
            out.append(",")
        out.append(encode_basestring(name))
        out.append(":")
        _encode(value[name], out)
    out.append("}")


def _encode_array(value: Sequence[Any], out: list[str]) -> None:
    out.append("[")
    for position, element in enumerate(value):
        if position:
            out.append(",")
        _encode(element, out)
    out.append("]")


def _utf16_order(name: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as UTF-16 code units do (RFC 8785 §3.2.3).
    return name.encode("utf-16-be", "surrogatepass")


def _integer(value: int) -> str:
    if abs(value) > MAX_EXACT_INTEGER:
        raise CanonicalJSONError(f"integer {value} is beyond 2**53 and has no exact JSON number form")
    return str(value)


def _number(value: float) -> str:
    """Format a double as ECMAScript Number.prototype.toString does (RFC 8785 §3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalJSONError(f"{value} is not a JSON number")
    if value == 0:
        return "0"  # also for -0.0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digit string that round-trips, as ECMAScript requires.
    digits_tuple, exponent = _shortest_digits(abs(value))
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = k + exponent  # value = 0.d1d2...dk × 10**n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        e = n - 1
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body


def _shortest_digits(magnitude: float) -> tuple[tuple[int, ...], int]:
    decimal_tuple = Decimal(repr(magnitude)).normalize().as_tuple()
    assert isinstance(decimal_tuple.exponent, int)  # finite by construction
    return decimal_tuple.digits, decimal_tuple.exponent
