"""HTTP to the server: the user's token, the device's request signature, retries with backoff.

Every request carries the investigator's bearer token (who the sync is for) and is signed with the gateway's key
(``evidence.requestsig``: which enrolled device sends it). Connection errors, timeouts, 5xx, 423 and 429 are
retried with exponential backoff and jitter, honouring ``Retry-After``; after the last attempt the request fails
with ``ServerUnavailableError``. Other answers are returned to the caller, which knows what they mean.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from device_gateway.errors import ServerRefusedError, ServerUnavailableError
from evidence.keys import SigningKey
from evidence.requestsig import sign_request

RETRIED_STATUSES = frozenset({423, 429, 500, 502, 503, 504})
TIMEOUT_S = 120.0  # a request silent this long (connecting, sending or waiting for the answer) is retried


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half to all of the step); ``Retry-After`` when the server gave one."""
        if retry_after is not None:
            return min(retry_after, self.max_delay_s * 2)
        step = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        return random.uniform(step / 2, step)  # noqa: S311 (jitter, not a secret)


class DeviceAuth(httpx.Auth):
    """Adds the bearer token and signs each request (again on every retry: the date is part of the signature)."""

    def __init__(self, key: SigningKey | None, token: str | None) -> None:
        self.key, self.token = key, token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        if self.key is not None:
            target = request.url.raw_path.decode("ascii")
            request.headers.update(sign_request(self.key, method=request.method, target=target, token=self.token))
        yield request


class ServerClient:
    """One server, one user, one device; ``request`` retries what is worth retrying."""

    def __init__(
        self,
        server: str,
        *,
        key: SigningKey | None,
        token: str | None,
        retry: RetryPolicy | None = None,
        timeout_s: float = TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.http = httpx.Client(base_url=server, auth=DeviceAuth(key, token), timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying connection errors and 5xx/423/429; return any other answer."""
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise ServerUnavailableError(f"cannot reach {self.server} ({method} {url}): {exc}") from exc
                self.sleep(self.retry.delay(attempt, None))
                continue
            if response.status_code not in RETRIED_STATUSES:
                return response
            if last:
                raise ServerUnavailableError(f"{method} {url}: the server kept failing: {describe(response)}")
            self.sleep(self.retry.delay(attempt, retry_after(response)))
        raise AssertionError("unreachable")  # pragma: no cover

    def expect(self, method: str, url: str, ok: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        """``request``, and ServerRefusedError unless the status is one of ``ok``."""
        response = self.request(method, url, **kwargs)
        if response.status_code not in ok:
            raise ServerRefusedError(f"{method} {url}: {describe(response)}", status=response.status_code)
        return response


def describe(response: httpx.Response) -> str:
    """The status and the server's reason (its JSON error message), for a person."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200] or response.reason_phrase
    return f"{response.status_code} {message}"


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
