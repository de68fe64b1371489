"""One transaction per request, as plain ASGI middleware.

The request's session is in ``request.state.session``. It is committed just before the answer starts when the
status is below 400, and rolled back otherwise, so a client that sees a success knows it is durable, and a request
is all or nothing. Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``: that one relays every body chunk
through an extra task and queue, which costs uploads a large share of their CPU.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import error_body

log = logging.getLogger(__name__)


class UnitOfWork:
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self.sessions()
        scope.setdefault("state", {})["session"] = session
        outcome = _Outcome(session, send)
        try:
            await self.app(scope, receive, outcome.send)
        except BaseException:
            await run_in_threadpool(session.rollback)
            raise
        finally:
            await run_in_threadpool(session.close)
        if outcome.failed_commit is not None:
            await _commit_failed(scope, receive, send, outcome.failed_commit)


class _Outcome:
    """Wraps ``send``: ends the transaction when the answer starts, before a byte of it leaves."""

    def __init__(self, session: Session, send: Send) -> None:
        self.session = session
        self.downstream = send
        self.failed_commit: SQLAlchemyError | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._end_transaction(message["status"])
        if self.failed_commit is None:
            await self.downstream(message)

    async def _end_transaction(self, status: int) -> None:
        if status >= 400:
            await run_in_threadpool(self.session.rollback)
            return
        try:
            await run_in_threadpool(self.session.commit)
        except SQLAlchemyError as exc:  # the answer is withheld: it would claim what was not stored
            await run_in_threadpool(self.session.rollback)
            self.failed_commit = exc


async def _commit_failed(scope: Scope, receive: Receive, send: Send, exc: SQLAlchemyError) -> None:
    reference = uuid.uuid4().hex[:12]
    log.error("commit failed %s on %s %s: %s", reference, scope["method"], scope["path"], exc)
    body = error_body(
        "internal", f"the server could not store the result; reference {reference}", {"reference": reference}
    )
    await JSONResponse(body, status_code=500)(scope, receive, send)
