"""Device request signatures: how an enrolled device (a gateway) proves that a request to the server comes from it.

Three headers travel with the user's bearer token:

- ``Fieldproof-Device``: the device key's id (lower-case hex SHA-256 of the raw Ed25519 public key);
- ``Fieldproof-Date``: the moment of signing, RFC 3339 in UTC (``2026-05-12T01:41:07Z``);
- ``Fieldproof-Signature``: base64 of the Ed25519 signature over the canonical string below.

The canonical string is five lines, each ending in a newline::

    fieldproof-device-request/1
    <METHOD, upper case>
    <path with query, as sent: /api/v1/uploads/abc?x=1>
    <Fieldproof-Date>
    <lower-case hex SHA-256 of the bearer token, or "-" without one>

The token's digest binds the signature to the user the request is made for: a captured signature cannot be
replayed with another user's token. The date bounds replay to the server's allowed clock skew. The body is not
signed: what it carries is protected by its own hashes (the declared SHA-256 of an upload, signed custody events).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime

from evidence.errors import SignatureError
from evidence.keys import PublicKey, SigningKey

LABEL = "fieldproof-device-request/1"
DEVICE_HEADER = "Fieldproof-Device"
DATE_HEADER = "Fieldproof-Date"
SIGNATURE_HEADER = "Fieldproof-Signature"
HEADERS = (DEVICE_HEADER, DATE_HEADER, SIGNATURE_HEADER)


def signing_string(*, method: str, target: str, date: str, token: str | None) -> bytes:
    """The bytes a device signs for one request (see the module docstring)."""
    token_digest = hashlib.sha256(token.encode()).hexdigest() if token else "-"
    return f"{LABEL}\n{method.upper()}\n{target}\n{date}\n{token_digest}\n".encode()


def format_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> datetime:
    """An RFC 3339 date-time with a zone; SignatureError otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SignatureError(f"{DATE_HEADER} {text[:40]!r} is not an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        raise SignatureError(f"{DATE_HEADER} must carry a zone (Z for UTC)")
    return moment


def sign_request(
    key: SigningKey, *, method: str, target: str, token: str | None, now: datetime | None = None
) -> dict[str, str]:
    """The three headers that sign one request with the device's key."""
    date = format_date(now or datetime.now(UTC))
    signature = key.sign(signing_string(method=method, target=target, date=date, token=token))
    return {
        DEVICE_HEADER: key.key_id,
        DATE_HEADER: date,
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
    }


def verify_request_signature(
    key: PublicKey, *, method: str, target: str, date: str, token: str | None, signature: str
) -> None:
    """Raise SignatureError unless ``signature`` is the key's signature of this request."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except binascii.Error as exc:
        raise SignatureError(f"{SIGNATURE_HEADER} is not base64") from exc
    key.verify(raw, signing_string(method=method, target=target, date=date, token=token))
