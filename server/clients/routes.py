"""``POST /oauth/token``: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) for integration clients.

The request is a form (``application/x-www-form-urlencoded``) with ``grant_type=client_credentials`` and an
optional ``scope``; the client authenticates with HTTP Basic (RFC 6749 §2.3.1: its id and secret, each
form-urlencoded) or with ``client_id`` and ``client_secret`` in the form, not both. The answer and its errors are
RFC 6749's (§5.1, §5.2), not the rest of the API's error shape, so that OAuth libraries understand them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from server.auth import SCOPES, session_of
from server.clients.service import OAuthError, client_token

router = APIRouter(tags=["integration"])

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class ClientTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    scope: str


class OAuthErrorOut(BaseModel):
    error: str
    error_description: str


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {"type": "string", "description": "space-separated, some of: " + ", ".join(SCOPES)},
        "client_id": {"type": "string", "description": "unless HTTP Basic is used"},
        "client_secret": {"type": "string", "description": "unless HTTP Basic is used"},
    },
}


@router.post(
    "/oauth/token",
    response_model=ClientTokenOut,
    summary="An integration client's bearer token (OAuth 2.0 client credentials)",
    openapi_extra={"requestBody": {"required": True, "content": {FORM: {"schema": _FORM_SCHEMA}}}},
    responses={
        400: {"model": OAuthErrorOut, "description": "invalid_request, unsupported_grant_type or invalid_scope"},
        401: {"model": OAuthErrorOut, "description": "invalid_client: unknown, wrong secret, or revoked"},
    },
)
async def oauth_token(request: Request) -> JSONResponse:
    try:
        form = _form(request.headers.get("content-type", ""), await _body(request))
        client_id, secret = _client_credentials(request.headers.get("authorization"), form)
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
        session = session_of(request)
        token = await run_in_threadpool(
            lambda: client_token(session, client_id=client_id, secret=secret, requested=form.get("scope"))
        )
    except OAuthError as exc:
        headers = {**NO_STORE, **({"WWW-Authenticate": 'Basic realm="fieldproof"'} if exc.status == 401 else {})}
        body = OAuthErrorOut(error=exc.error, error_description=exc.description)
        return JSONResponse(body.model_dump(), status_code=exc.status, headers=headers)
    answer = ClientTokenOut(access_token=token.access_token, expires_in=token.expires_in, scope=token.scope)
    return JSONResponse(answer.model_dump(), headers=NO_STORE)


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError(400, "invalid_request", f"the form is longer than {MAX_FORM_BYTES} bytes")
    return body


def _form(content_type: str, body: bytes) -> dict[str, str]:
    """The form's fields; each at most once (RFC 6749 §3.2), UTF-8, without NUL."""
    if content_type.split(";", maxsplit=1)[0].strip().lower() != FORM:
        raise OAuthError(400, "invalid_request", f"the request must be a form ({FORM})")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError(400, "invalid_request", f"the form cannot be read: {exc}") from exc
    if any(len(values) > 1 for values in fields.values()):
        raise OAuthError(400, "invalid_request", "a parameter is given more than once")
    form = {name: values[0] for name, values in fields.items()}
    if any("\x00" in text for item in form.items() for text in item):
        raise OAuthError(400, "invalid_request", "the form holds a NUL character")
    return form


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    in_form = "client_id" in form or "client_secret" in form
    if authorization and authorization.lower().startswith("basic "):
        if in_form:
            raise OAuthError(400, "invalid_request", "authenticate with HTTP Basic or with the form, not both")
        return _basic(authorization[6:])
    if not in_form:
        raise OAuthError(401, "invalid_client", "client authentication is required (HTTP Basic, or the form)")
    return form.get("client_id", ""), form.get("client_secret", "")


def _basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(401, "invalid_client", "the Basic credentials cannot be read") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError(401, "invalid_client", "the Basic credentials lack the ':'")
    return unquote_plus(client_id), unquote_plus(secret)
