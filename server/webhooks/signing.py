"""Standard Webhooks signatures (https://www.standardwebhooks.com/), pure: no I/O.

Every delivery carries three headers:

- ``webhook-id``: the message id (``msg_…``), the same on every retry of one delivery, so receivers can dedupe;
- ``webhook-timestamp``: when this attempt was signed, Unix seconds (receivers refuse ones too far from now);
- ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the key is the
  base64-decoded part of the endpoint's secret ``whsec_…``. Several signatures may be listed, space-separated
  (while a secret is rotated); a receiver accepts the message if one of them matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
SECRET_BYTES = 32
MESSAGE_PREFIX = "msg_"
TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """A webhook message that does not verify: bad secret, stale timestamp or no matching signature."""


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    return MESSAGE_PREFIX + secrets.token_urlsafe(18)


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise SignatureError("the secret is not whsec_ followed by base64") from exc


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for ``body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, plus the content type."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id=message_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }


def verify(secret: str, *, headers: dict[str, str], body: bytes, now: int) -> None:
    """Check a received message as a receiver would: (1) the headers are there, (2) the timestamp is within
    ``TOLERANCE_SECONDS`` of ``now``, (3) one ``v1`` signature matches. Raises ``SignatureError`` otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:  # 1
        message_id, stamp, given = (lowered[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        timestamp = int(stamp)
    except (KeyError, ValueError) as exc:
        raise SignatureError("the webhook-id, webhook-timestamp or webhook-signature header is missing") from exc
    if abs(now - timestamp) > TOLERANCE_SECONDS:  # 2
        raise SignatureError("the timestamp is too far from now")
    expected = sign(secret, message_id=message_id, timestamp=timestamp, body=body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in given.split()):  # 3
        raise SignatureError("no signature matches")
