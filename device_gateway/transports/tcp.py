"""TCP listener for HJ 212 data loggers (数采仪) that push frames to an upper computer (上位机).

Each connection gets its own stream decoder. A reply (CN=9014) is sent only when a frame's Flag asks for one,
and only after the frame is stored, so a logger that resends for want of a reply never loses data.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from device_gateway.spool import FrameRecord
from device_gateway.transports.serial import LineAdapter

log = logging.getLogger(__name__)

Submit = Callable[[FrameRecord, Callable[[], None] | None], None]
AdapterFactory = Callable[[str], LineAdapter]
IDLE_FLUSH_S = 1.0
FINISH_WAIT_S = 30.0


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TcpListener:
    def __init__(self, *, host: str, port: int, adapter_for: AdapterFactory, submit: Submit, label: str) -> None:
        self.label = label
        self.connections = 0
        listener = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                listener.connections += 1
                peer = f"{self.client_address[0]}:{self.client_address[1]}"
                _serve(self.request, adapter_for(f"{label} from {peer}"), submit, listener.stopping)
                listener.finished.wait(FINISH_WAIT_S)  # keep the connection for replies to the last frames

        self.stopping = threading.Event()
        self.finished = threading.Event()
        self._server = _Server((host, port), Handler)
        self.address = self._server.server_address

    def run(self, stop: threading.Event) -> None:
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        stop.wait()
        self.stopping.set()
        self._server.shutdown()

    def finish(self) -> None:
        self.finished.set()
        self._server.server_close()


def _serve(connection: socket.socket, adapter: LineAdapter, submit: Submit, stopping: threading.Event) -> None:
    connection.settimeout(IDLE_FLUSH_S)
    while not stopping.is_set():
        try:
            data = connection.recv(65536)
        except TimeoutError:
            _emit(adapter.flush(datetime.now(UTC)), connection, submit)
            continue
        except OSError:
            break
        if not data:
            break
        _emit(adapter.feed(data, datetime.now(UTC)), connection, submit)
    _emit(adapter.flush(datetime.now(UTC)), connection, submit)


def _emit(results: list[tuple[FrameRecord, bytes | None]], connection: socket.socket, submit: Submit) -> None:
    for record, reply in results:
        submit(record, None if reply is None else _sender(connection, reply))


def _sender(connection: socket.socket, reply: bytes) -> Callable[[], None]:
    def send_reply() -> None:
        try:
            connection.sendall(reply)
        except OSError as exc:
            log.info("reply not sent, the logger has gone: %s", exc)

    return send_reply
