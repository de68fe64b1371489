"""Ed25519 keys, their ids, and key files in the C2SP signed-note formats.

A key has a *name* (printable ASCII, no spaces or ``+``) and an Ed25519 key pair. Two ids derive from it:

- ``key_id``: lower-case hex SHA-256 of the raw 32-byte public key. Custody events name their signer by it.
- ``note_hash``: the 4-byte signed-note key hash, SHA-256(name || 0x0A || type || public key)[:4], which signature
  lines in checkpoints carry (C2SP signed-note; type 0x01 for Ed25519, 0x04 for witness cosignatures).

Files: the private key as ``PRIVATE+KEY+<name>+<hash>+<base64(type || seed)>`` (mode 0600, never overwritten);
the public key as the verifier key ``<name>+<hash>+<base64(type || public key)>``, the form Go's
golang.org/x/mod/sumdb/note and other signed-note tools read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat
from cryptography.hazmat.primitives.serialization import NoEncryption as _NoEncryption

from evidence.errors import KeyFileError, SignatureError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_KEY_TYPES = {ED25519: "Ed25519", COSIGNATURE_V1: "cosignature/v1"}
_PRIVATE_PREFIX = "PRIVATE+KEY+"

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "PublicKey",
    "SigningKey",
    "generate_key",
    "load_public_key",
    "load_signing_key",
    "validate_key_name",
    "write_key_pair",
]


def validate_key_name(name: str) -> str:
    """Return ``name`` if it is a valid key name (non-empty printable ASCII without spaces or '+')."""
    if not name or any(not (0x21 <= ord(c) <= 0x7E) or c == "+" for c in name):
        raise KeyFileError(f"invalid key name {name!r}: use printable ASCII letters, digits and -._/:, no '+'")
    return name


def _note_hash(name: str, key_type: int, raw_public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + raw_public).digest()[:4]


@dataclass(frozen=True)
class PublicKey:
    """A verifier key: name, signature type and the raw 32-byte Ed25519 public key."""

    name: str
    raw: bytes
    key_type: int = ED25519
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_key_name(self.name)
        if self.key_type not in _KEY_TYPES:
            raise KeyFileError(f"unsupported key type 0x{self.key_type:02x}")
        try:
            object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.raw))
        except ValueError as exc:
            raise KeyFileError(f"key {self.name}: not an Ed25519 public key ({exc})") from exc

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def note_hash(self) -> bytes:
        return _note_hash(self.name, self.key_type, self.raw)

    def verify(self, signature: bytes, message: bytes) -> None:
        try:
            self._key.verify(signature, message)
        except InvalidSignature as exc:
            raise SignatureError(f"signature does not verify under key {self.name} ({self.key_id[:16]}…)") from exc

    def to_text(self) -> str:
        encoded = base64.b64encode(bytes([self.key_type]) + self.raw).decode()
        return f"{self.name}+{self.note_hash.hex()}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        """Parse a verifier key line ``<name>+<hash>+<base64(type || key)>``."""
        name, written_hash, key_type, raw = _parse_key_line(text.strip(), "verifier key")
        key = cls(name, raw, key_type)
        _check_note_hash(written_hash, key.note_hash)
        return key


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key with its name; signs messages and gives its PublicKey."""

    name: str
    seed: bytes = field(repr=False)
    key_type: int = ED25519
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_key_name(self.name)
        try:
            object.__setattr__(self, "_key", Ed25519PrivateKey.from_private_bytes(self.seed))
        except ValueError as exc:
            raise KeyFileError(f"key {self.name}: not an Ed25519 private key ({exc})") from exc

    @property
    def public(self) -> PublicKey:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return PublicKey(self.name, raw, self.key_type)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_text(self) -> str:
        encoded = base64.b64encode(bytes([self.key_type]) + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.public.note_hash.hex()}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> SigningKey:
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise KeyFileError("not a private key: it must start with PRIVATE+KEY+")
        name, written_hash, key_type, seed = _parse_key_line(text.removeprefix(_PRIVATE_PREFIX), "private key")
        key = cls(name, seed, key_type)
        _check_note_hash(written_hash, key.public.note_hash)
        return key


def generate_key(name: str, *, key_type: int = ED25519) -> SigningKey:
    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, _NoEncryption())
    return SigningKey(validate_key_name(name), seed, key_type)


def write_key_pair(key: SigningKey, path: Path) -> Path:
    """Write the private key to ``path`` (mode 0600) and the verifier key to ``path.pub``; return the latter.

    Neither file may exist already: a key is never silently replaced.
    """
    public_path = path.with_name(path.name + ".pub")
    if public_path.exists():
        raise KeyFileError(f"{public_path} already exists; refusing to overwrite a key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as private_file:
        private_file.write(key.to_text() + "\n")
    public_path.write_text(key.public.to_text() + "\n")
    return public_path


def load_signing_key(path: Path) -> SigningKey:
    """Read a private key file; refuse one that other users can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read private key {path}: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"private key {path} has mode {stat.S_IMODE(mode):04o}; others could read it. Run: chmod 600 {path}"
        )
    return SigningKey.from_text(text)


def load_public_key(path: Path) -> PublicKey:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc}") from exc
    return PublicKey.from_text(text)


def _parse_key_line(text: str, what: str) -> tuple[str, str, int, bytes]:
    """Split ``<name>+<hash>+<base64>`` at its first two '+' (base64 itself may contain '+')."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyFileError(f"malformed {what}: expected <name>+<hash>+<key>")
    name, written_hash, encoded = parts
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: characters outside ASCII
        raise KeyFileError(f"malformed {what}: key is not base64") from exc
    if len(blob) != 33:
        raise KeyFileError(f"malformed {what}: expected a type byte and 32 key bytes, got {len(blob)} bytes")
    return validate_key_name(name), written_hash, blob[0], blob[1:]


def _check_note_hash(written: str, expected: bytes) -> None:
    if written != expected.hex():
        raise KeyFileError(f"key hash {written} does not match the key (expected {expected.hex()})")
