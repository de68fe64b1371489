"""System-test fixtures: real brokers and real gateway processes.

MQTT: the Mosquitto this machine runs on 127.0.0.1:1883 (always in CI); on a machine without one, the tests
start the ``mosquitto`` binary on a free port, and failing that an embedded broker (amqtt). Each test says which
broker it used. In CI (``CI=true``) only a real Mosquitto is acceptable: the tests fail rather than fall back.
``FIELDPROOF_TEST_BROKER=mosquitto-binary`` or ``=embedded`` forces a fallback (to check that it works).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MOSQUITTO_PORT = 1883


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    kind: str  # "mosquitto (running)", "mosquitto (started by the tests)", "embedded amqtt"

    @property
    def keeps_sessions(self) -> bool:
        """Whether the broker queues and redelivers QoS 1 messages for a returning persistent session.

        amqtt (checked with 0.12) neither holds unacknowledged messages for redelivery nor carries a persistent
        session's stream reliably, so tests of those guarantees need Mosquitto.
        """
        return self.kind.startswith("mosquitto")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    forced = os.environ.get("FIELDPROOF_TEST_BROKER")
    if forced == "mosquitto-binary":
        yield from _started_mosquitto(tmp_path_factory.mktemp("mosquitto"))
        return
    if forced == "embedded":
        yield from _embedded_broker()
        return
    if port_open(MOSQUITTO_PORT):
        broker = Broker("127.0.0.1", MOSQUITTO_PORT, "mosquitto (running)")
        print(f"\nMQTT broker: {broker.kind} on {broker.host}:{broker.port}")
        yield broker
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs the Mosquitto broker on 127.0.0.1:1883 (.ci/run starts it); it is not running")
    if shutil.which("mosquitto"):
        yield from _started_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    else:
        yield from _embedded_broker()


@pytest.fixture
def session_broker(mqtt_broker: Broker) -> Broker:
    """A broker that keeps persistent sessions: Mosquitto. With only the embedded broker, the test is skipped
    with the reason (never in CI, where the mqtt_broker fixture accepts nothing but the real Mosquitto)."""
    if not mqtt_broker.keeps_sessions:
        pytest.skip(f"{mqtt_broker.kind} does not redeliver QoS 1 messages to persistent sessions; install mosquitto")
    return mqtt_broker


def _started_mosquitto(folder: Path) -> Iterator[Broker]:
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
    _wait_for_port(port)
    print(f"\nMQTT broker: mosquitto binary started by the tests on 127.0.0.1:{port}")
    try:
        yield Broker("127.0.0.1", port, "mosquitto (started by the tests)")
    finally:
        process.terminate()
        process.wait(10)


def _embedded_broker() -> Iterator[Broker]:
    from amqtt.broker import Broker as AmqttBroker

    port = free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> AmqttBroker:
        broker = AmqttBroker(config)
        await broker.start()
        return broker

    broker = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    print(f"\nMQTT broker: embedded amqtt on 127.0.0.1:{port} (no Mosquitto on this machine)")
    try:
        yield Broker("127.0.0.1", port, "embedded amqtt")
    finally:
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.05)


def fieldproof_command() -> list[str]:
    return [str(Path(sys.executable).with_name("fieldproof"))]
