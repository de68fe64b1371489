"""Who is asking, and what they may do: bearer tokens, passwords, roles, and which units' data they see.

Tokens are random (32 bytes, URL-safe), shown once, stored only as their SHA-256, expiring and revocable.
Passwords are hashed with argon2id. What each role may do is data (``PERMISSIONS``), checked by ``require``. A
user sees the data of their own unit and of the units under it: the city procuratorate sees every county's
cases, a county sees only its own; another unit's case is answered as not found, so it cannot even be learned of.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import ApiError
from server.units.models import Unit
from server.users.models import ROLES, Token, User

_EVERYONE = frozenset(ROLES)
_OFFICERS = frozenset({"investigator", "evidence_officer", "prosecutor", "unit_admin"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "cases.read": _EVERYONE,
    "cases.write": frozenset({"prosecutor", "unit_admin"}),
    "cases.transition": frozenset({"prosecutor", "unit_admin"}),
    "sites.write": frozenset({"investigator", "prosecutor", "unit_admin"}),
    "visits.write": frozenset({"investigator", "prosecutor", "unit_admin"}),
    "uploads.write": frozenset({"investigator", "evidence_officer", "integration"}),
    "items.register": frozenset({"investigator", "evidence_officer", "integration"}),
    "items.read": _EVERYONE,
    "items.content": _OFFICERS | {"integration"},
    "items.verify": frozenset({"evidence_officer", "prosecutor", "unit_admin"}),
    "cases.export": frozenset({"evidence_officer", "prosecutor"}),
    "readings.write": frozenset({"investigator", "evidence_officer"}),
    "readings.read": _EVERYONE,
    "log.read": _EVERYONE,
    "clues.write": frozenset({"investigator", "prosecutor", "unit_admin", "integration"}),
    "webhooks.manage": frozenset({"unit_admin", "integration"}),
    "campaign.read": frozenset({"prosecutor", "unit_admin", "integration"}),
}

# What an integration client's token may do, by OAuth scope; its role (integration) must grant it too. A client
# that submits clues uploads and registers their attachments (only into cases still at the clue stage).
SCOPES: dict[str, frozenset[str]] = {
    "cases:read": frozenset({"cases.read", "campaign.read"}),
    "evidence:read": frozenset({"items.read", "items.content", "readings.read", "log.read"}),
    "clues:write": frozenset({"clues.write", "uploads.write", "items.register"}),
    "webhooks:manage": frozenset({"webhooks.manage"}),
}

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    """32 random bytes, URL-safe; never starting with "-", which a command line would take for an option."""
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def issue_token(session: Session, user: User, lifetime: timedelta, *, scopes: str | None = None) -> str:
    """A new bearer token for ``user``: returned once, stored only as its SHA-256; ``scopes`` (space-separated)
    limits it to what those scopes grant (integration clients' tokens)."""
    token = new_secret()
    now = datetime.now(UTC)
    expires = now + lifetime
    session.add(
        Token(user_id=user.id, token_hash=token_digest(token), created_at=now, expires_at=expires, scopes=scopes)
    )
    session.flush()
    return token


@dataclass(frozen=True)
class Principal:
    """The authenticated user, the units whose data they may see, and the scopes of their token (None: a user's
    token, limited by the role alone)."""

    user_id: int
    username: str
    role: str
    unit_id: int
    visible_units: frozenset[int]
    scopes: frozenset[str] | None = None

    def may(self, permission: str) -> bool:
        if self.role not in PERMISSIONS[permission]:
            return False
        return self.scopes is None or any(permission in SCOPES.get(scope, ()) for scope in self.scopes)

    def sees(self, unit_id: int) -> bool:
        return unit_id in self.visible_units


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    session = session_of(request)
    row = session.scalar(select(Token).where(Token.token_hash == token_digest(token.strip())))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise ApiError(401, "the token is unknown, expired or revoked", headers={"WWW-Authenticate": "Bearer"})
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise ApiError(401, "the token's user is not active", headers={"WWW-Authenticate": "Bearer"})
    scopes = None if row.scopes is None else frozenset(row.scopes.split())
    return Principal(user.id, user.username, user.role, user.unit_id, visible_units(session, user.unit_id), scopes)


def require(permission: str) -> Callable[..., Principal]:
    """A dependency: the authenticated principal, if their role grants ``permission``; else 403."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)

    def dependency(principal: Principal = Depends(authenticate)) -> Principal:  # noqa: B008
        if not principal.may(permission):
            given = "" if principal.scopes is None else f" with the scopes {' '.join(sorted(principal.scopes))}"
            raise ApiError(403, f"the role {principal.role}{given} may not do this ({permission})")
        return principal

    return dependency


def visible_units(session: Session, unit_id: int) -> frozenset[int]:
    """The unit and every unit under it."""
    children: dict[int | None, list[int]] = {}
    for unit in session.scalars(select(Unit)):
        children.setdefault(unit.parent_id, []).append(unit.id)
    seen, stack = set(), [unit_id]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(children.get(current, []))
    return frozenset(seen)
