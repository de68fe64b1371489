"""System-test fixtures: real brokers and real gateway processes.

MQTT: the Mosquitto this machine runs on 127.0.0.1:1883 (always in CI); on a machine without one, the tests
start the ``mosquitto`` binary on a free port, and failing that an embedded broker (amqtt). Each test says which
broker it used. In CI (``CI=true``) only a real Mosquitto is acceptable: the tests fail rather than fall back.
``FIELDPROOF_TEST_BROKER=mosquitto-binary`` or ``=embedded`` forces a fallback (to check that it works).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from fieldproof.demo.broker import Broker, embedded_broker, free_port, port_open, started_mosquitto

MOSQUITTO_PORT = 1883
__all__ = ["Broker", "fieldproof_command", "free_port", "port_open"]  # shared with other test packages


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    forced = os.environ.get("FIELDPROOF_TEST_BROKER")
    if forced == "mosquitto-binary":
        yield from _announced(started_mosquitto(_mosquitto(), tmp_path_factory.mktemp("mosquitto"), started_by=_US))
        return
    if forced == "embedded":
        yield from _announced(embedded_broker())
        return
    if port_open(MOSQUITTO_PORT):
        yield from _announced(nullcontext(Broker("127.0.0.1", MOSQUITTO_PORT, "mosquitto (running)")))
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs the Mosquitto broker on 127.0.0.1:1883 (.ci/run starts it); it is not running")
    if shutil.which("mosquitto"):
        yield from _announced(started_mosquitto(_mosquitto(), tmp_path_factory.mktemp("mosquitto"), started_by=_US))
    else:
        yield from _announced(embedded_broker())


@pytest.fixture
def session_broker(mqtt_broker: Broker) -> Broker:
    """A broker that keeps persistent sessions: Mosquitto. With only the embedded broker, the test is skipped
    with the reason (never in CI, where the mqtt_broker fixture accepts nothing but the real Mosquitto)."""
    if not mqtt_broker.keeps_sessions:
        pytest.skip(f"{mqtt_broker.kind} does not redeliver QoS 1 messages to persistent sessions; install mosquitto")
    return mqtt_broker


_US = "the tests"


def _mosquitto() -> str:
    binary = shutil.which("mosquitto")
    if binary is None:
        pytest.fail("FIELDPROOF_TEST_BROKER=mosquitto-binary, but there is no mosquitto binary")
    return binary


def _announced(broker: AbstractContextManager[Broker]) -> Iterator[Broker]:
    with broker as started:
        print(f"\nMQTT broker: {started.kind} on {started.host}:{started.port}")
        yield started


def fieldproof_command() -> list[str]:
    return [str(Path(sys.executable).with_name("fieldproof"))]
