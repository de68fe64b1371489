"""Integration clients: made by an administrator (``fieldproof admin create-client``), exchanging their id and
secret for short-lived bearer tokens limited to their scopes, revoked for good."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.admin import create_user
from server.auth import SCOPES, issue_token, new_secret, token_digest
from server.clients.models import IntegrationClient
from server.errors import ApiError
from server.users.models import User

CLIENT_TOKEN_LIFETIME = timedelta(hours=1)
CLIENT_ID_PREFIX = "fpc_"


class OAuthError(Exception):
    """An error of the token endpoint, in RFC 6749 §5.2's terms (``invalid_client``, ``invalid_scope``, …)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass(frozen=True)
class ClientToken:
    access_token: str
    expires_in: int
    scope: str


def parse_scopes(text: str) -> frozenset[str]:
    """Space-separated scopes, each one of ``SCOPES``; ValueError otherwise."""
    scopes = frozenset(text.split())
    unknown = sorted(scopes - SCOPES.keys())
    if not scopes or unknown:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}" + (f"; unknown: {unknown}" if unknown else ""))
    return scopes


def create_client(session: Session, *, unit_code: str, name: str, scopes: frozenset[str]) -> tuple[str, str]:
    """A new client of ``unit_code``: its id and secret (the secret is shown only now; stored as its SHA-256)."""
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(8)
    secret = new_secret()
    user = create_user(
        session, username=f"client:{client_id}", unit_code=unit_code, role="integration", display_name=name
    )
    session.add(
        IntegrationClient(
            client_id=client_id,
            secret_hash=token_digest(secret),
            user_id=user.id,
            name=name,
            scopes=" ".join(sorted(scopes)),
            created_at=datetime.now(UTC),
        )
    )
    session.flush()
    return client_id, secret


def revoke_client(session: Session, client_id: str) -> None:
    """The client can get no new token, and the tokens it has stop working (its user is deactivated)."""
    client = session.scalar(select(IntegrationClient).where(IntegrationClient.client_id == client_id))
    if client is None:
        raise ApiError(404, f"no client {client_id}")
    client.revoked_at = client.revoked_at or datetime.now(UTC)
    user = session.get(User, client.user_id)
    if user is not None:
        user.active = False
    session.flush()


def client_token(session: Session, *, client_id: str, secret: str, requested: str | None) -> ClientToken:
    """A bearer token for a client that proves its secret, limited to the scopes asked for (all of its own if none)."""
    client = session.scalar(select(IntegrationClient).where(IntegrationClient.client_id == client_id))
    presented = token_digest(secret)
    if client is None or not hmac.compare_digest(presented, client.secret_hash) or client.revoked_at is not None:
        raise OAuthError(401, "invalid_client", "unknown client, wrong secret, or a revoked client")
    user = session.get(User, client.user_id)
    if user is None or not user.active:
        raise OAuthError(401, "invalid_client", "the client is not active")
    granted = frozenset(client.scopes.split())
    asked = granted if requested is None else frozenset(requested.split())
    if not asked or not asked <= granted:
        raise OAuthError(400, "invalid_scope", f"this client may ask for: {' '.join(sorted(granted))}")
    scope = " ".join(sorted(asked))
    token = issue_token(session, user, CLIENT_TOKEN_LIFETIME, scopes=scope)
    return ClientToken(token, int(CLIENT_TOKEN_LIFETIME.total_seconds()), scope)
