"""An MQTT broker for the demo (and the system tests): the machine's Mosquitto on 127.0.0.1:1883 if it runs, else
the ``mosquitto`` binary started on a free port, else an embedded broker (amqtt, installed with the dev extras)."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.errors import FieldproofError


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    kind: str  # "mosquitto (running)", "mosquitto (started by …)", "embedded amqtt"

    @property
    def keeps_sessions(self) -> bool:
        """Whether the broker queues and redelivers QoS 1 messages for a returning persistent session.

        amqtt (checked with 0.12) neither holds unacknowledged messages for redelivery nor carries a persistent
        session's stream reliably, so what depends on those guarantees needs Mosquitto.
        """
        return self.kind.lower().startswith("mosquitto")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mqtt_broker(folder: Path, *, running_port: int = 1883) -> Iterator[Broker]:
    forced = os.environ.get("FIELDPROOF_DEMO_BROKER")
    binary = shutil.which("mosquitto")
    if forced == "embedded":
        with embedded_broker() as broker:
            yield broker
    elif forced == "mosquitto-binary" and binary:
        with started_mosquitto(binary, folder) as broker:
            yield broker
    elif port_open(running_port):
        yield Broker("127.0.0.1", running_port, "Mosquitto (running)")
    elif binary:
        with started_mosquitto(binary, folder) as broker:
            yield broker
    else:
        with embedded_broker() as broker:
            yield broker


@contextmanager
def started_mosquitto(binary: str, folder: Path, *, started_by: str = "the demo") -> Iterator[Broker]:
    """The ``mosquitto`` binary on a free port of 127.0.0.1, with a configuration in ``folder``."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)  # noqa: S603 - our config
    try:
        _wait_for(port)
        yield Broker("127.0.0.1", port, f"mosquitto (started by {started_by})")
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def embedded_broker() -> Iterator[Broker]:
    """amqtt in a thread of this process, on a free port of 127.0.0.1."""
    try:
        amqtt_broker: Any = importlib.import_module("amqtt.broker")
    except ImportError as exc:
        raise FieldproofError(
            "no MQTT broker: Mosquitto is not running on 127.0.0.1:1883, no mosquitto binary, and amqtt is not "
            "installed (pip install -e '.[dev]')"
        ) from exc
    port = free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> Any:
        broker = amqtt_broker.Broker(config)
        await broker.start()
        return broker

    broker = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield Broker("127.0.0.1", port, "embedded amqtt")
    finally:
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _wait_for(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() > deadline:
            raise FieldproofError(f"mosquitto does not listen on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.05)
