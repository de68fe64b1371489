"""Signed checkpoints (tree heads) in the C2SP signed-note format, with witness cosignatures.

A checkpoint body (C2SP tlog-checkpoint) is three lines, optionally followed by extension lines::

    <origin>
    <tree size, decimal>
    <base64 root hash>

A signed note is the body, a blank line, then one line per signature: ``— <key name> <base64(key hash || sig)>``
(U+2014 EM DASH, space). Ed25519 signatures (type 0x01) sign the body bytes. Witness cosignatures (C2SP
tlog-cosignature, type 0x04) sign ``cosignature/v1\\ntime <t>\\n`` + body and carry ``key hash || t (8 bytes,
big-endian) || signature``.

Verification follows the signed-note rules: signatures from unknown keys are ignored; a signature from a known
key that fails rejects the note; a note with no verified signature from a known key is rejected.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from evidence.errors import CheckpointError, SignatureError
from evidence.keys import COSIGNATURE_V1, ED25519, PublicKey, SigningKey

_DASH = "\u2014 "
_MAX_SIGNATURES = 100
_DECIMAL = re.compile(r"0|[1-9][0-9]*")

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "SignedNote",
    "cosign",
    "cosignature_time",
    "sign_checkpoint",
    "sign_note_body",
    "verified_signers",
    "verify_note",
]


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, size and root hash, plus any extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        text = _note_text(body)
        lines = text.split("\n")[:-1]
        if len(lines) < 3:
            raise CheckpointError("checkpoint body needs origin, size and root lines")
        origin, size_line, root_line, *extensions = lines
        if not origin:
            raise CheckpointError("checkpoint origin is empty")
        if not _DECIMAL.fullmatch(size_line):
            raise CheckpointError(f"checkpoint size {size_line!r} is not a decimal number")
        try:
            root = base64.b64decode(root_line, validate=True)
        except binascii.Error as exc:
            raise CheckpointError("checkpoint root is not base64") from exc
        if len(root) != 32:
            raise CheckpointError(f"checkpoint root has {len(root)} bytes, not 32")
        if any(not line for line in extensions):
            raise CheckpointError("checkpoint has an empty extension line")
        return cls(origin, int(size_line), root, tuple(extensions))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte note hash and the signature data after it."""

    name: str
    key_hash: bytes
    data: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_hash + self.data).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note body and its signature lines."""

    body: bytes
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return self.body + b"\n" + "".join(s.line() for s in self.signatures).encode()

    def with_signature(self, signature: NoteSignature) -> SignedNote:
        return SignedNote(self.body, (*self.signatures, signature))

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(self.body)

    @classmethod
    def parse(cls, data: bytes) -> SignedNote:
        text = _note_text(data)
        split = text.rfind("\n\n")
        if split < 0:
            raise CheckpointError("note has no signature block (no blank line)")
        body, block = text[: split + 1], text[split + 2 :]
        signatures = tuple(_parse_signature_line(line) for line in block.split("\n")[:-1])
        if not signatures:
            raise CheckpointError("note carries no signature lines")
        if len(signatures) > _MAX_SIGNATURES:
            raise CheckpointError(f"note carries more than {_MAX_SIGNATURES} signatures")
        return cls(body.encode(), signatures)


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> SignedNote:
    """Sign a checkpoint body with an Ed25519 log key."""
    return SignedNote(checkpoint.body(), (sign_note_body(checkpoint.body(), key),))


def sign_note_body(body: bytes, key: SigningKey) -> NoteSignature:
    if key.key_type != ED25519:
        raise CheckpointError(f"key {key.name} is a cosignature key; use cosign()")
    return NoteSignature(key.name, key.public.note_hash, key.sign(body))


def cosign(note: SignedNote, key: SigningKey, timestamp: int) -> SignedNote:
    """Add a witness cosignature (C2SP tlog-cosignature v1) made at ``timestamp`` (Unix seconds)."""
    if key.key_type != COSIGNATURE_V1:
        raise CheckpointError(f"key {key.name} is not a cosignature/v1 key")
    message = _cosigned_message(note.body, timestamp)
    data = struct.pack(">Q", timestamp) + key.sign(message)
    return note.with_signature(NoteSignature(key.name, key.public.note_hash, data))


def verify_note(note: SignedNote, known_keys: Iterable[PublicKey]) -> list[PublicKey]:
    """Return the known keys whose signatures on ``note`` verify; raise if one fails or none verifies."""
    verified = verified_signers(note, known_keys)
    if not verified:
        names = ", ".join(sorted({s.name for s in note.signatures}))
        raise CheckpointError(f"no signature by a known key (signed by: {names})")
    return verified


def verified_signers(note: SignedNote, known_keys: Iterable[PublicKey]) -> list[PublicKey]:
    """The known keys whose signatures on ``note`` verify, possibly none; raise if a known key's fails."""
    keys = {(k.name, k.note_hash): k for k in known_keys}
    verified: list[PublicKey] = []
    for signature in note.signatures:
        key = keys.get((signature.name, signature.key_hash))
        if key is None:
            continue  # unknown keys are ignored
        try:
            _verify_one(note.body, signature, key)
        except SignatureError as exc:
            raise CheckpointError(f"signature by known key {key.name} does not verify: {exc}") from exc
        if key not in verified:
            verified.append(key)
    return verified


def _verify_one(body: bytes, signature: NoteSignature, key: PublicKey) -> None:
    if key.key_type == ED25519:
        key.verify(signature.data, body)
        return
    if len(signature.data) != 8 + 64:
        raise SignatureError("a cosignature must be an 8-byte time and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", signature.data[:8])
    key.verify(signature.data[8:], _cosigned_message(body, timestamp))


def cosignature_time(signature: NoteSignature) -> int:
    """Unix time a witness claims in a cosignature line."""
    (timestamp,) = struct.unpack(">Q", signature.data[:8])
    return int(timestamp)


def _cosigned_message(body: bytes, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body


def _note_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("note is not UTF-8") from exc
    if not text.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text) or "\x7f" in text:
        raise CheckpointError("note contains control characters")
    return text


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_DASH):
        raise CheckpointError(f"malformed signature line {line[:40]!r}")
    name, _, encoded = line[len(_DASH) :].partition(" ")
    if not name or "+" in name or " " in encoded:
        raise CheckpointError(f"malformed signature line {line[:40]!r}")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise CheckpointError(f"signature by {name} is not base64") from exc
    if len(blob) < 5:
        raise CheckpointError(f"signature by {name} is too short")
    return NoteSignature(name, blob[:4], blob[4:])
