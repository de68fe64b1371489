"""tus uploads against a real uvicorn server (in a thread), over real sockets: dropped and stalled connections are
resumed from the offset the server actually stored, and a large body is never held in memory.

The raw-socket client sends the request head and part of the body itself, then closes the socket or falls silent,
exactly what a phone losing its mobile link does. It sends ``Expect: 100-continue`` and waits for ``100 Continue``
before the body, as curl and most HTTP clients do for large bodies: the server answers it only once the PATCH has
taken the upload's lock and starts reading the body, so the test knows the request is being handled when the link
drops. Without that, a HEAD and an empty PATCH sent right after the drop can be served *before* the dropped request
even takes the lock (its token and upload lookups take longer on PostgreSQL than on SQLite), and the offset they
report is the one from before the dropped request, which then appends its bytes behind the client's back.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest
import uvicorn

from server.app import create_app
from server.config import Settings
from server.uploads import receive
from tests.server.conftest import World

OCTETS = "application/offset+octet-stream"
IN_FLIGHT = 256 * 1024  # bytes a server may have read from the socket but not yet handed on when the link drops


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free port, in a thread; yields the base URL."""
    app = create_app(settings)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=20)
    listener.close()
    app.state.engine.dispose()


@pytest.fixture
def tus(live: str, world: World) -> Iterator[LiveUploader]:
    uploader = LiveUploader(live, world)
    with uploader.http:
        yield uploader


class LiveUploader:
    def __init__(self, base: str, world: World) -> None:
        self.base = base
        self.auth = world.headers("LY/investigator")["Authorization"]
        self.http = httpx.Client(base_url=base, headers={"Authorization": self.auth, "Tus-Resumable": "1.0.0"})

    def start(self, data: bytes) -> str:
        sha256 = base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
        answer = self.http.post(
            "/api/v1/uploads", headers={"Upload-Length": str(len(data)), "Upload-Metadata": f"sha256 {sha256}"}
        )
        assert answer.status_code == 201
        return answer.headers["Location"]

    def offset(self, location: str) -> int:
        answer = self.http.head(location)
        assert answer.status_code == 200
        return int(answer.headers["Upload-Offset"])

    def patch(self, location: str, offset: int, body: bytes) -> httpx.Response:
        headers = {"Upload-Offset": str(offset), "Content-Type": OCTETS}
        return self.http.patch(location, headers=headers, content=body)

    def raw_patch(self, location: str, offset: int, content_length: int, **extra: str) -> socket.socket:
        """A PATCH whose head is sent and accepted (``100 Continue``); the caller sends (some of) the body.

        When this returns, the server is running the request and holds the upload's lock until it has wound it up.
        """
        connection = socket.create_connection(("127.0.0.1", int(self.base.rsplit(":", 1)[1])))
        lines = [
            f"PATCH {location} HTTP/1.1",
            "Host: fieldproof.test",
            f"Authorization: {self.auth}",
            "Tus-Resumable: 1.0.0",
            f"Upload-Offset: {offset}",
            f"Content-Type: {OCTETS}",
            f"Content-Length: {content_length}",
            "Expect: 100-continue",
            *(f"{name}: {value}" for name, value in extra.items()),
        ]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        connection.settimeout(20)
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            received = connection.recv(1)
            assert received, f"the server closed the connection instead of accepting the body: {interim!r}"
            interim += received
        assert interim.startswith(b"HTTP/1.1 100 "), interim.decode(errors="replace")
        connection.settimeout(None)
        return connection

    def settled_offset(self, location: str) -> int:
        """The offset once no request holds the upload any more (the dropped one has been wound up).

        Only meaningful after ``raw_patch``: the dropped request holds the lock from before its body was sent until
        it has kept (and fsynced) what arrived, so an empty PATCH at the offset HEAD gives is 423 until then (or
        409 if the offset moved between the two), and 204 once that offset is final.
        """
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            offset = self.offset(location)
            if self.patch(location, offset, b"").status_code == 204:
                return offset
            time.sleep(0.05)
        raise AssertionError("the upload stayed locked for 10 s after its connection dropped")

    def resume(self, location: str, data: bytes) -> httpx.Response:
        """What a tus client does after an error: ask the offset, send the rest from there; again on 409 or 423."""
        deadline = time.monotonic() + 10
        while True:
            offset = self.offset(location)
            answer = self.patch(location, offset, data[offset:])
            if answer.status_code not in (409, 423) or time.monotonic() > deadline:
                return answer
            time.sleep(0.05)


def test_an_upload_resumes_after_a_dropped_connection(tus: LiveUploader) -> None:
    data = os.urandom(6 * 1024 * 1024 + 5)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:1_000_000]).status_code == 204
    connection = tus.raw_patch(location, 1_000_000, len(data) - 1_000_000)
    connection.sendall(data[1_000_000:4_500_000])  # the link drops after 3.5 MB of 5.3
    connection.close()
    offset = tus.settled_offset(location)
    # what the server had received is kept; only what was still in uvicorn's buffer may be lost
    assert 4_500_000 - IN_FLIGHT <= offset <= 4_500_000
    answer = tus.patch(location, offset, data[offset:])
    assert answer.status_code == 204
    assert answer.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()
    assert answer.headers["Upload-Offset"] == str(len(data))


def test_a_client_resuming_at_once_completes_the_upload(tus: LiveUploader) -> None:
    """The client does not wait for the server to notice the drop: it asks for the offset and resumes at once,
    retrying on 409 (the dropped request kept more bytes meanwhile) and 423 (it is still winding up)."""
    data = os.urandom(5 * 1024 * 1024 + 3)
    location = tus.start(data)
    connection = tus.raw_patch(location, 0, len(data))
    connection.sendall(data[:3_000_000])
    connection.close()
    answer = tus.resume(location, data)
    assert answer.status_code == 204, answer.text
    assert answer.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()


def test_a_dropped_request_with_a_checksum_keeps_none_of_its_bytes(tus: LiveUploader) -> None:
    data = os.urandom(2_000_000)
    location = tus.start(data)
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    connection = tus.raw_patch(location, 0, len(data), **{"Upload-Checksum": f"sha256 {checksum}"})
    connection.sendall(data[:1_500_000])  # cannot be checked without the rest
    connection.close()
    assert tus.settled_offset(location) == 0
    done = tus.patch(location, 0, data)
    assert done.status_code == 204
    assert done.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()


def test_a_stalled_body_is_ended_and_what_arrived_is_kept(tus: LiveUploader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receive, "IDLE_SECONDS", 0.5)
    data = os.urandom(3_000_000)
    location = tus.start(data)
    with closing(tus.raw_patch(location, 0, len(data))) as connection:
        connection.sendall(data[:1_200_000])  # then silence, as from a link that died without a FIN
        connection.settimeout(10)
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 204")
    assert "upload-offset: 1200000" in answer.lower()
    assert tus.offset(location) == 1_200_000
    done = tus.patch(location, 1_200_000, data[1_200_000:])
    assert done.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()


def test_a_large_upload_is_never_held_in_memory(tus: LiveUploader) -> None:
    size, piece = 200 * 1024 * 1024, memoryview(os.urandom(1024 * 1024))
    expected = hashlib.sha256()
    for _ in range(size // len(piece)):
        expected.update(piece)
    sha256 = base64.b64encode(expected.hexdigest().encode()).decode()
    created = tus.http.post(
        "/api/v1/uploads", headers={"Upload-Length": str(size), "Upload-Metadata": f"sha256 {sha256}"}
    )
    location = created.headers["Location"]
    tracemalloc.start()
    try:
        with closing(tus.raw_patch(location, 0, size)) as connection:
            for _ in range(size // len(piece)):
                connection.sendall(piece)
            connection.settimeout(60)
            answer = connection.recv(4096).decode()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer.startswith("HTTP/1.1 204"), answer
    assert f"upload-sha256: {expected.hexdigest()}" in answer.lower()
    assert peak < 64 * 1024 * 1024, f"{peak / 2**20:.1f} MiB traced at peak while receiving 200 MiB"
