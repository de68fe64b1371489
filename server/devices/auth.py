"""Device-signed requests: which enrolled device (if any) a request comes from.

A gateway signs its requests with its enrolled key (``evidence.requestsig``: ``Fieldproof-Device``,
``Fieldproof-Date``, ``Fieldproof-Signature``) beside the user's bearer token, which attributes the request to the
user. The signature is optional, so clients without a device key (the browser field app) work as before; when
any of the headers is there, all must be and must verify:

1. all three headers, or none (then the request is the user's alone);
2. the date within ``MAX_SKEW`` of the server's clock (else 401: replay or a wrong clock);
3. a key enrolled on this server (else 401);
4. the signature over method, path with query, date and the bearer token's digest (else 401);
5. the device enrolled in a unit the user sees (else 403).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from evidence.errors import KeyFileError, SignatureError
from evidence.keys import PublicKey
from evidence.requestsig import (
    DATE_HEADER,
    DEVICE_HEADER,
    HEADERS,
    SIGNATURE_HEADER,
    parse_date,
    verify_request_signature,
)
from server.auth import Principal, authenticate, session_of
from server.devices.models import Device
from server.devices.service import device_by_key
from server.errors import ApiError

MAX_SKEW = timedelta(minutes=5)


def signing_device(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Device | None:
    """The enrolled device that signed this request, or None for an unsigned request (see the module docstring)."""
    present = [name for name in HEADERS if name in request.headers]
    if not present:
        return None
    if len(present) != len(HEADERS):  # 1.
        missing = ", ".join(name for name in HEADERS if name not in present)
        raise _refused(f"a device-signed request needs all of its headers; missing {missing}")
    _check_date(request.headers[DATE_HEADER])  # 2.
    device = device_by_key(session_of(request), request.headers[DEVICE_HEADER])
    if device is None:  # 3.
        raise _refused("no device is enrolled with this key")
    _check_signature(request, device)  # 4.
    if not principal.sees(device.unit_id):  # 5.
        raise ApiError(403, "the signing device is enrolled in a unit you do not belong to")
    return device


def signing_device_key(device: Annotated[Device | None, Depends(signing_device)]) -> str | None:
    """The signing device's key id, or None: what the custody ledger records as the request's device."""
    return None if device is None else device.key_id


SigningDeviceKey = Annotated[str | None, Depends(signing_device_key)]


def _check_date(text: str) -> None:
    try:
        signed_at = parse_date(text)
    except SignatureError as exc:
        raise _refused(str(exc)) from exc
    skew = abs(datetime.now(UTC) - signed_at)
    if skew > MAX_SKEW:
        raise _refused(
            f"{DATE_HEADER} is {skew.total_seconds():.0f} s from the server's clock "
            f"(at most {MAX_SKEW.total_seconds():.0f} s): check the device's clock"
        )


def _check_signature(request: Request, device: Device) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        verify_request_signature(
            PublicKey.from_text(device.public_key),
            method=request.method,
            target=_target(request),
            date=request.headers[DATE_HEADER],
            token=token.strip() if scheme.lower() == "bearer" else None,
            signature=request.headers[SIGNATURE_HEADER],
        )
    except (SignatureError, KeyFileError) as exc:
        raise _refused(f"the device signature does not verify: {exc}") from exc


def _target(request: Request) -> str:
    """The path and query exactly as the client sent them (what it signed)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string") or b""
    return (raw_path + (b"?" + query if query else b"")).decode("latin-1")


def _refused(reason: str) -> ApiError:
    return ApiError(401, reason, code="device_signature")
