"""The tus 1.0.0 protocol's vocabulary: versions, extensions, and its headers parsed into values (no I/O).

``Upload-Metadata`` is a comma-separated list of ``key base64(value)`` pairs; fieldproof requires ``sha256`` (the
whole file's SHA-256, lower-case hex, as the client computed it) and reads ``filename``. ``Upload-Checksum`` is
``algorithm base64(digest)`` and covers the bytes of one PATCH request. Malformed headers raise ``ApiError(400)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

from evidence.hashing import is_sha256_hex
from server.errors import ApiError

if TYPE_CHECKING:
    from hashlib import _Hash as Hash
else:
    Hash = object

TUS_VERSION = "1.0.0"
EXTENSIONS = ("creation", "checksum", "termination", "expiration")
CHECKSUM_ALGORITHMS = ("sha256", "sha1", "md5")
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
MAX_METADATA_CHARS = 4096
MAX_FILENAME_CHARS = 255
CHECKSUM_MISMATCH = 460  # the checksum extension's status: the bytes do not match their checksum

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CHECKSUM_MISMATCH",
    "EXTENSIONS",
    "OFFSET_OCTET_STREAM",
    "TUS_VERSION",
    "Checksum",
    "Hash",
    "Metadata",
    "http_date",
    "new_hasher",
    "parse_checksum",
    "parse_metadata",
]


@dataclass(frozen=True)
class Metadata:
    """What fieldproof reads from ``Upload-Metadata``, and the header as sent (returned by HEAD)."""

    sha256: str
    filename: str | None
    raw: str


@dataclass(frozen=True)
class Checksum:
    """A PATCH request's ``Upload-Checksum``: the algorithm and the digest its bytes must have."""

    algorithm: str
    digest: bytes


def parse_metadata(header: str | None) -> Metadata:
    """The ``Upload-Metadata`` of a creation request; ``sha256`` is required."""
    if header is None or not header.strip():
        raise ApiError(400, "Upload-Metadata must carry sha256: the whole file's SHA-256 in lower-case hex")
    if len(header) > MAX_METADATA_CHARS:
        raise ApiError(400, f"Upload-Metadata is longer than {MAX_METADATA_CHARS} characters")
    pairs = _metadata_pairs(header)
    sha256 = _text(pairs, "sha256")
    if sha256 is None or not is_sha256_hex(sha256):
        raise ApiError(400, "Upload-Metadata sha256 must be the whole file's SHA-256, 64 lower-case hex digits")
    filename = _text(pairs, "filename")
    if filename is not None and not 0 < len(filename) <= MAX_FILENAME_CHARS:
        raise ApiError(400, f"Upload-Metadata filename must be 1 to {MAX_FILENAME_CHARS} characters")
    if filename is not None and "\x00" in filename:  # PostgreSQL text cannot hold it, and no file name has one
        raise ApiError(400, "Upload-Metadata filename must not contain NUL characters")
    return Metadata(sha256=sha256, filename=filename, raw=header.strip())


def _metadata_pairs(header: str) -> dict[str, bytes]:
    pairs: dict[str, bytes] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        if not key or not key.isascii() or key in pairs or " " in value.strip():
            raise ApiError(400, f"Upload-Metadata is malformed near {item.strip()[:40]!r}")
        pairs[key] = _base64(value.strip(), f"Upload-Metadata {key}")
    return pairs


def _text(pairs: dict[str, bytes], key: str) -> str | None:
    if key not in pairs:
        return None
    try:
        return pairs[key].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"Upload-Metadata {key} is not UTF-8 text") from exc


def parse_checksum(header: str | None) -> Checksum | None:
    """A PATCH request's ``Upload-Checksum``, if it has one."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ApiError(400, f"Upload-Checksum algorithm must be one of {', '.join(CHECKSUM_ALGORITHMS)}")
    digest = _base64(encoded.strip(), "Upload-Checksum")
    if len(digest) != new_hasher(algorithm).digest_size:
        raise ApiError(400, f"Upload-Checksum is not a {algorithm} digest")
    return Checksum(algorithm, digest)


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, f"{what} is not valid base64") from exc


def new_hasher(algorithm: str) -> Hash:
    """A fresh hash object; SHA-1 and MD5 are only transfer checksums here, never integrity values."""
    return hashlib.new(algorithm, usedforsecurity=algorithm == "sha256")


def http_date(moment: datetime) -> str:
    """An HTTP date (RFC 9110), as ``Upload-Expires`` wants: ``Wed, 25 Jun 2026 16:00:00 GMT``."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)
