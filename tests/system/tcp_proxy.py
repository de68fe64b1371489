"""A TCP proxy for system tests that watches the HTTP/1.1 requests passing through it and lets a test act on them.

The proxy listens on a free local port and forwards every connection to ``upstream``, one thread per direction.
On the way to the server it parses the requests (request line, headers, a ``Content-Length`` body: what httpx
sends) and asks ``Hooks`` what to do: before a request is forwarded, after each piece of its body, and before each
piece of the answer is relayed. A hook may do anything (kill the client, restart the server, sleep to stall the
connection) and then return ``DROP`` to close both sides of the connection without forwarding the piece.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

DROP = "drop"
_HEAD_END = b"\r\n\r\n"


@dataclass
class Request:
    """A request seen on one connection: its line, its body's length and how much of the body was forwarded."""

    connection: int
    number: int  # per proxy, in the order the request lines arrived
    method: str
    path: str
    length: int
    sent: int = 0
    answered: bool = False  # the first bytes of the answer were relayed
    cut_at: int | None = None  # a hook may set it: the body is forwarded in pieces that stop there once
    connection_of: _Connection | None = field(default=None, repr=False)

    def close_server_side(self) -> None:
        """Close the connection to the server only (the server sees the client go; the client waits)."""
        if self.connection_of is not None:
            with contextlib.suppress(OSError):
                self.connection_of.server.shutdown(socket.SHUT_RDWR)
            self.connection_of.server.close()


class Hooks:
    """What the proxy asks; the defaults forward everything. Return ``DROP`` to cut the connection instead."""

    def request(self, request: Request) -> str | None:
        return None

    def body(self, request: Request) -> str | None:
        return None

    def answer(self, request: Request | None, size: int) -> str | None:
        return None


@dataclass(eq=False)
class _Connection:
    number: int
    client: socket.socket
    server: socket.socket
    closed: threading.Event = field(default_factory=threading.Event)
    current: Request | None = None

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class Proxy:
    def __init__(self, upstream_port: int, hooks: Hooks | None = None, host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self.hooks = hooks or Hooks()
        self.listener = socket.create_server((host, 0))
        self.port = int(self.listener.getsockname()[1])
        self.requests = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[_Connection] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.upstream[0]}:{self.port}"

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            connection.close()
        self._thread.join(10)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:  # the server is down: the client sees its connection closed
                client.close()
                continue
            with self._lock:
                self.connections += 1
                connection = _Connection(self.connections, client, server)
                self._open.add(connection)
            threading.Thread(target=self._upstream, args=(connection,), daemon=True).start()
            threading.Thread(target=self._downstream, args=(connection,), daemon=True).start()

    def _upstream(self, connection: _Connection) -> None:
        """Client to server: parse the requests, ask the hooks, forward."""
        head = b""
        try:
            while not connection.closed.is_set():
                data = connection.client.recv(65536)
                if not data:
                    break
                while data:
                    request = connection.current
                    if request is not None and request.sent < request.length:
                        room = request.length - request.sent
                        if request.cut_at is not None and request.sent < request.cut_at:
                            room = min(room, request.cut_at - request.sent)
                        piece, data = data[:room], data[room:]
                        connection.server.sendall(piece)
                        request.sent += len(piece)
                        if self.hooks.body(request) == DROP:
                            return
                        continue
                    head += data
                    data = b""
                    end = head.find(_HEAD_END)
                    if end < 0:
                        break
                    block, data = head[: end + 4], head[end + 4 :]
                    head = b""
                    request = self._parse(connection, block)
                    connection.current = request
                    if self.hooks.request(request) == DROP:
                        return
                    connection.server.sendall(block)
                    if request.length == 0 and self.hooks.body(request) == DROP:
                        return
        except OSError:
            pass
        finally:
            self._close(connection)

    def _downstream(self, connection: _Connection) -> None:
        """Server to client: ask the hooks before relaying each piece of the answer."""
        try:
            while not connection.closed.is_set():
                data = connection.server.recv(65536)
                if not data:
                    break
                request = connection.current
                if self.hooks.answer(request, len(data)) == DROP:
                    return
                if request is not None:
                    request.answered = True
                connection.client.sendall(data)
        except OSError:
            pass
        finally:
            self._close(connection)

    def _parse(self, connection: _Connection, block: bytes) -> Request:
        lines = block.decode("latin-1").split("\r\n")
        method, path, *_ = [*lines[0].split(" "), "", ""]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        with self._lock:
            self.requests += 1
            number = self.requests
        return Request(connection.number, number, method, path, length, connection_of=connection)

    def _close(self, connection: _Connection) -> None:
        connection.close()
        with self._lock:
            self._open.discard(connection)
