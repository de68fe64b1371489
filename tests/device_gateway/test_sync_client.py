"""The sync client's retries and request signatures. A poor mobile link cannot be summoned on demand, so these use
httpx's mock transport; the journey against a real server is in test_sync.py."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from device_gateway.errors import ServerRefusedError, ServerUnavailableError
from device_gateway.sync.client import RetryPolicy, ServerClient, retry_after
from evidence.keys import generate_key
from evidence.requestsig import DATE_HEADER, DEVICE_HEADER, SIGNATURE_HEADER, verify_request_signature

KEY = generate_key("test-gateway")


def client_for(answers: list[httpx.Response | Exception], slept: list[float]) -> ServerClient:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return ServerClient(
        "http://server.test",
        key=KEY,
        token="the-token",
        retry=RetryPolicy(attempts=4, base_delay_s=1.0, max_delay_s=8.0),
        sleep=slept.append,
        transport=httpx.MockTransport(handle),
    )


def test_connection_errors_and_5xx_are_retried_with_growing_jittered_delays() -> None:
    slept: list[float] = []
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("link down"),
        httpx.Response(503),
        httpx.Response(502),
        httpx.Response(200, text="ok"),
    ]
    with client_for(answers, slept) as client:
        assert client.request("GET", "/api/v1/log/key").text == "ok"
    assert len(slept) == 3
    for attempt, delay in enumerate(slept):
        step = min(8.0, 2.0**attempt)
        assert step / 2 <= delay <= step


def test_retry_after_is_honoured() -> None:
    slept: list[float] = []
    answers: list[httpx.Response | Exception] = [
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(200),
    ]
    with client_for(answers, slept) as client:
        client.request("GET", "/x")
    assert slept == [3.0]
    assert retry_after(httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


def test_the_last_failure_is_reported_with_the_servers_reason() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503, json={"error": {"code": "x", "message": "database is restarting"}})
    ] * 4
    with client_for(answers, []) as client, pytest.raises(ServerUnavailableError, match="database is restarting"):
        client.request("GET", "/x")
    with client_for([httpx.ConnectError("refused")] * 4, []) as client, pytest.raises(ServerUnavailableError):
        client.request("GET", "/x")


def test_a_4xx_is_not_retried_and_expect_names_the_reason() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(422, json={"error": {"code": "invalid", "message": "the custody chain is broken"}})
    ]
    with client_for(answers, []) as client, pytest.raises(ServerRefusedError, match="chain is broken") as caught:
        client.expect("POST", "/api/v1/items", (201,), json={})
    assert caught.value.status == 422


def test_every_request_carries_the_token_and_a_device_signature() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handle)
    with ServerClient("http://server.test", key=KEY, token="the-token", transport=transport) as client:
        client.request("GET", "/api/v1/log/consistency", params={"first": 3, "second": 9})
    request = seen[0]
    assert request.headers["Authorization"] == "Bearer the-token"
    assert request.headers[DEVICE_HEADER] == KEY.key_id == hashlib.sha256(KEY.public.raw).hexdigest()
    verify_request_signature(
        KEY.public,
        method="GET",
        target="/api/v1/log/consistency?first=3&second=9",
        date=request.headers[DATE_HEADER],
        token="the-token",
        signature=request.headers[SIGNATURE_HEADER],
    )
