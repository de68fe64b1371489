"""One JSON shape for every error the API returns::

    {"error": {"code": "not_found", "message": "no such case", "details": {...}}}

``code`` is stable (clients branch on it); ``message`` says what went wrong for a person; ``details`` may add
fields (e.g. the validation errors). Unexpected exceptions become a 500 with this shape and a reference, never a
traceback; the traceback goes to the log.

Routes document the errors they answer in their ``responses=``, with ``errors(...)`` over descriptions by status
(the common ones below, and their own), so the OpenAPI document lists every status a client can get, each with
this shape (``ErrorOut``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    428: "precondition_required",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error the API answers with: HTTP status, stable code, a message for a person, optional details."""

    def __init__(self, status: int, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, "error")
        self.message = message
        self.details = details


def not_found(what: str) -> ApiError:
    return ApiError(404, f"no such {what}")


class ErrorBody(BaseModel):
    code: str = Field(description="stable: clients branch on it (e.g. not_found, invalid, case_closed)")
    message: str = Field(description="what went wrong, for a person")
    details: dict[str, Any] = Field(description="more fields, e.g. problems: where and what, for invalid input")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorBody


Responses = dict[int | str, dict[str, Any]]


def errors(*descriptions: Mapping[int, str]) -> Responses:
    """For a route's ``responses=``: each status with the error shape; several descriptions of one status join."""
    joined: dict[int, list[str]] = {}
    for mapping in descriptions:
        for status, text in mapping.items():
            joined.setdefault(status, []).append(text)
    return {status: {"model": ErrorOut, "description": "; or ".join(texts)} for status, texts in sorted(joined.items())}


# Errors many routes share, as descriptions to combine with ``errors(...)``.
UNAUTHENTICATED = {401: "no valid bearer token (missing, unknown, expired or revoked)"}
INVALID = {422: "the request is not valid: details.problems says where and what"}
FORBIDDEN = {403: "your role may not do this"}
PAGED = {400: "the cursor is not one this server gave"}
JSON_BODY = {400: "the body cannot be read as JSON (not UTF-8, or nested too deeply)", **INVALID}
IDEMPOTENT = {
    400: "Idempotency-Key is not 1 to 200 characters",
    409: "Idempotency-Key was used before with a different request",
}
SIGNED_IN = errors(UNAUTHENTICATED, INVALID)  # the ``responses=`` of a router whose routes all need a token


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    headers = exc.details.pop("headers", None)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {"where": ".".join(str(part) for part in error.get("loc", ())), "problem": error.get("msg", "invalid")}
        for error in exc.errors()
    ]
    return JSONResponse(error_body("invalid", "the request is not valid", {"problems": problems}), status_code=422)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(exc.status_code, "error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    reference = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s on %s %s", reference, request.method, request.url.path)
    return JSONResponse(
        error_body("internal", f"the server failed; reference {reference}", {"reference": reference}), status_code=500
    )
