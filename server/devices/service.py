"""Enrolling devices with one-time codes, and finding the keys their custody events must verify under.

A code is random, shown once (``fieldproof admin enroll-code``), stored only as its SHA-256, valid for a week, and
used at most once. Enrolling registers the device's public key in the code's unit; the key id (SHA-256 of the raw
key) is then what custody events name as their signer.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.errors import KeyFileError
from evidence.keys import PublicKey
from server.devices.models import DEVICE_KINDS, Device, EnrollmentCode
from server.errors import ApiError

CODE_LIFETIME = timedelta(days=7)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on a phone


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").upper().encode()).hexdigest()


def create_enrollment_code(session: Session, *, unit_id: int, lifetime: timedelta = CODE_LIFETIME) -> str:
    """A new one-time code for enrolling a device in the unit; returned once, stored only hashed."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    now = datetime.now(UTC)
    session.add(EnrollmentCode(unit_id=unit_id, code_hash=_digest(raw), created_at=now, expires_at=now + lifetime))
    session.flush()
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def enroll(session: Session, *, code: str, kind: str, name: str, public_key: str) -> Device:
    """Register a device's key with a one-time code; the code is spent."""
    if kind not in DEVICE_KINDS:
        raise ApiError(422, f"kind must be one of {', '.join(DEVICE_KINDS)}")
    key = _parse_key(public_key)
    row = session.scalar(select(EnrollmentCode).where(EnrollmentCode.code_hash == _digest(code)))
    now = datetime.now(UTC)
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise ApiError(401, "the enrollment code is unknown, used or expired")
    if session.scalar(select(Device).where(Device.key_id == key.key_id)) is not None:
        raise ApiError(409, "a device with this key is enrolled already")
    device = Device(
        unit_id=row.unit_id, kind=kind, name=name, public_key=key.to_text(), key_id=key.key_id, enrolled_at=now
    )
    session.add(device)
    session.flush()
    row.used_at, row.device_id = now, device.id
    return device


def device_keys(session: Session) -> dict[str, PublicKey]:
    """Every enrolled device's key, by key id."""
    return {device.key_id: PublicKey.from_text(device.public_key) for device in session.scalars(select(Device))}


def device_by_key(session: Session, key_id: str) -> Device | None:
    return session.scalar(select(Device).where(Device.key_id == key_id))


def _parse_key(text: str) -> PublicKey:
    try:
        return PublicKey.from_text(text)
    except KeyFileError as exc:
        raise ApiError(422, f"public_key is not a verifier key: {exc}") from exc
