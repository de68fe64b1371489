"""Conventions every endpoint shares: lists with cursors, ETags with If-Match, Idempotency-Key on creation.

- **Lists** answer ``{"items": [...], "next": cursor-or-null}`` and take ``limit`` (1-500, default 100) and
  ``cursor`` (opaque; pass back the ``next`` of the previous page). Order is by id, so pages never skip or repeat
  rows while others are added.
- **ETags** are strong: a hash of the resource's JSON. ``PATCH`` with ``If-Match`` that does not match answers
  412, so two editors cannot overwrite each other unknowingly.
- **Idempotency-Key** on a creating ``POST``: the first response (status and body) is stored under the key, the
  caller and the path; the same request again gets the same answer, never a second resource. The same key with a
  different body is refused (409).
- **Instants** a client sends are ISO 8601 date-times with a UTC offset (``Moment``; not Unix timestamps), within
  the years a UTC datetime can hold, so that they can be stored and compared in UTC.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator
from sqlalchemy import JSON, Integer, LargeBinary, Select, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime
from server.errors import ApiError

T = TypeVar("T")
MAX_LIMIT = 500
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: a cursor beyond them is not one this server gave


_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_text(value: Any) -> Any:
    """Only an ISO 8601 date-time: pydantic would otherwise read a number (even "0.5") as a Unix timestamp."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
        return value
    raise ValueError("an ISO 8601 date-time with a UTC offset is required, e.g. 2026-05-12T09:41:07+08:00")


def _has_utc_form(moment: datetime) -> datetime:
    try:
        moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+08:00 is before the first instant a datetime holds
        raise ValueError("the instant is out of range: in UTC it must fall in the years 1 to 9999") from exc
    return moment


Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_has_utc_form)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None


def page_params(
    limit: int = Query(100, ge=1, le=MAX_LIMIT, description="items per page (1-500)"),
    cursor: str | None = Query(None, max_length=200, description="the `next` of the previous page"),
) -> tuple[int, int | None]:
    """FastAPI dependency: (limit, id after which this page starts)."""
    return limit, decode_cursor(cursor)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "cursor is not one this server gave") from exc
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
        raise ApiError(400, "cursor is not one this server gave")
    return after


def paginate(
    session: Session, query: Select[Any], id_column: Any, page: tuple[int, int | None], render: Callable[[Any], T]
) -> Page[T]:
    """One page of ``query`` ordered by ``id_column`` (which must be an integer id)."""
    limit, after = page
    if after is not None:
        query = query.where(id_column > after)
    rows: Sequence[Any] = session.scalars(query.order_by(id_column).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(int(getattr(rows[-1], id_column.key))) if more and rows else None
    return Page[T](items=[render(row) for row in rows], next=next_cursor)


def etag_of(representation: BaseModel) -> str:
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def check_if_match(request: Request, current: str) -> None:
    """412 unless the request's If-Match (if any) names the current ETag (or is ``*``)."""
    wanted = request.headers.get("if-match")
    if wanted is None:
        return
    tags = {tag.strip() for tag in wanted.split(",")}
    if "*" not in tags and current not in tags:
        raise ApiError(
            412, "the resource changed since you read it (If-Match does not match its ETag)", current_etag=current
        )


def with_etag(response: Response, representation: BaseModel) -> str:
    tag = etag_of(representation)
    response.headers["ETag"] = tag
    return tag


class IdempotentResponse(Base):
    """A creating request's first answer, kept under its Idempotency-Key."""

    __tablename__ = "idempotent_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256(user, method, path, key)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)  # None: stored before headers were kept (JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def idempotent(
    request: Request, session: Session, principal_id: str, payload: Any, create: Callable[[], tuple[int, Any]]
) -> Response:
    """Run ``create`` (returning status and a JSON-able body) once per Idempotency-Key; replay its answer."""
    return idempotent_response(request, session, principal_id, payload, lambda: _json_response(*create()))


def idempotent_response(
    request: Request, session: Session, principal_id: str, payload: Any, create: Callable[[], Response]
) -> Response:
    """Run ``create`` once per Idempotency-Key; replay its answer: status, body and the headers that name what it
    created (``Location``, ``Upload-Expires``, ``ETag``, ``Content-Type``)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return create()
    if not 1 <= len(key) <= 200:
        raise ApiError(400, "Idempotency-Key must be 1 to 200 characters")
    key_hash = hashlib.sha256(f"{principal_id}\n{request.method}\n{request.url.path}\n{key}".encode()).hexdigest()
    request_hash = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    stored = session.scalar(select(IdempotentResponse).where(IdempotentResponse.key_hash == key_hash))
    if stored is not None:
        if stored.request_hash != request_hash:
            raise ApiError(409, "this Idempotency-Key was used with a different request")
        headers = {**(stored.headers or {"content-type": "application/json"}), "Idempotent-Replayed": "true"}
        return Response(stored.body, status_code=stored.status, headers=headers)
    response = create()
    kept = {name: value for name, value in response.headers.items() if name in _REPLAYED_HEADERS}
    session.add(
        IdempotentResponse(
            key_hash=key_hash,
            request_hash=request_hash,
            status=response.status_code,
            body=bytes(response.body),
            headers=kept,
            created_at=datetime.now(UTC),
        )
    )
    session.flush()
    return response


_REPLAYED_HEADERS = frozenset({"location", "upload-expires", "etag", "content-type"})


def _json_response(status: int, body: Any) -> Response:
    encoded = json.dumps(body, default=str, ensure_ascii=False).encode()
    return Response(encoded, status_code=status, media_type="application/json")
