"""Authentication: ``POST /auth/token`` (a bearer token for a username and password), ``GET /auth/me``,
``DELETE /auth/token`` (revoke the token in use)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.auth import Principal, authenticate, issue_token, password_matches, session_of, token_digest
from server.cases.schemas import NO_NUL
from server.errors import JSON_BODY, UNAUTHENTICATED, ApiError, errors
from server.units.models import Unit
from server.users.models import Token, User

router = APIRouter(tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)  # and valid Unicode: argon2 hashes UTF-8


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Exchange a username and password for a bearer token",
    responses=errors(JSON_BODY, {401: "wrong username or password"}),
)
def create_token(credentials: Credentials, request: Request) -> TokenOut:
    session = session_of(request)
    user = session.scalar(select(User).where(User.username == credentials.username))
    if user is None or not user.active or not password_matches(user.password_hash, credentials.password):
        raise ApiError(401, "wrong username or password")
    lifetime = request.app.state.settings.token_lifetime
    return TokenOut(access_token=issue_token(session, user, lifetime), expires_in=int(lifetime.total_seconds()))


class MeOut(BaseModel):
    username: str
    role: str
    unit: str
    unit_name: str
    display_name: str | None
    visible_units: list[str]


@router.get(
    "/auth/me",
    response_model=MeOut,
    summary="Who the bearer token belongs to, and what they see",
    responses=errors(UNAUTHENTICATED),
)
def me(request: Request, principal: Principal = Depends(authenticate)) -> MeOut:  # noqa: B008
    session = session_of(request)
    user = session.get(User, principal.user_id)
    units = {unit.id: unit for unit in session.scalars(select(Unit))}
    own = units[principal.unit_id]
    return MeOut(
        username=principal.username,
        role=principal.role,
        unit=own.code,
        unit_name=own.name,
        display_name=user.display_name if user else None,
        visible_units=sorted(units[i].code for i in principal.visible_units),
    )


@router.delete(
    "/auth/token",
    status_code=204,
    summary="Revoke the bearer token this request carries",
    responses=errors(UNAUTHENTICATED),
)
def revoke(request: Request, principal: Principal = Depends(authenticate)) -> Response:  # noqa: B008
    session = session_of(request)
    token = request.headers["authorization"].partition(" ")[2].strip()
    row = session.scalar(select(Token).where(Token.token_hash == token_digest(token)))
    if row is not None:
        row.revoked_at = datetime.now(UTC)
    return Response(status_code=204)
