"""Bootstrapping without the API (like other frameworks' createsuperuser): units, users, tokens, enrollment codes.

Used by ``fieldproof admin`` on the database directly, and by tests to set up a world. Services take keyword-only
arguments and flush; the caller's transaction commits.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth import hash_password, issue_token
from server.errors import ApiError
from server.units.models import Unit
from server.users.models import ROLES, User


def create_unit(session: Session, *, code: str, name: str, parent_code: str | None = None) -> Unit:
    if session.scalar(select(Unit).where(Unit.code == code)) is not None:
        raise ApiError(409, f"unit {code} exists already")
    parent_id = None
    if parent_code is not None:
        parent = unit_by_code(session, parent_code)
        parent_id = parent.id
    unit = Unit(code=code, name=name, parent_id=parent_id)
    session.add(unit)
    session.flush()
    return unit


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise ApiError(404, f"no unit {code}")
    return unit


def create_user(
    session: Session,
    *,
    username: str,
    unit_code: str,
    role: str,
    password: str | None = None,
    display_name: str | None = None,
) -> User:
    if role not in ROLES:
        raise ApiError(422, f"role must be one of {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ApiError(409, f"user {username} exists already")
    unit = unit_by_code(session, unit_code)
    user = User(
        username=username,
        unit_id=unit.id,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def token_for(session: Session, *, username: str, lifetime_hours: float = 12.0) -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ApiError(404, f"no user {username}")
    return issue_token(session, user, timedelta(hours=lifetime_hours))
