"""Messages stored but never acknowledged come back from the broker, and the spool stores them once.

A first subscriber stores every message but never acknowledges (as a gateway killed between commit and PUBACK
would); a second one with the same client id and persistent session then receives them again from the broker,
with the rest of the stream. The spool must hold each message exactly once and recognise the redeliveries.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.adapters import mqtt_payload_records
from device_gateway.config import GatewaySettings
from device_gateway.ingest import Ingestor
from device_gateway.protocols.jsonline import encode_payload
from device_gateway.spool import FrameRecord, Spool, StoredFrame
from device_gateway.transports.mqtt import MqttEndpoint, MqttSource
from evidence.readings import Reading
from tests.system.conftest import Broker

MESSAGES = 50


def source(broker: Broker, topic: str, client_id: str, data: Path, submit: Callable[..., None]) -> MqttSource:
    settings = GatewaySettings(data)

    def parse(payload: bytes, message_topic: str, received_at: datetime) -> list[FrameRecord]:
        return mqtt_payload_records(
            payload, source=message_topic, settings=settings, received_at=received_at, visit=None
        )

    return MqttSource(MqttEndpoint(broker.host, broker.port, topic, client_id), parse=parse, submit=submit)


def publish(broker: Broker, topic: str, seqs: range) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"redelivery-publisher-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    for seq in seqs:
        reading = Reading("a34004", "Rtd", float(seq), "N", None, "ug/m3")
        payload = encode_payload(device="LYREDO0001", seq=seq, time=datetime.now(UTC), readings=[reading])
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_unacknowledged_messages_are_redelivered_and_stored_once(tmp_path: Path, session_broker: Broker) -> None:
    mqtt_broker = session_broker
    topic = f"fieldproof-test/{uuid.uuid4().hex}/readings"
    client_id = f"fieldproof-redelivery-{uuid.uuid4().hex[:8]}"
    outcomes: list[StoredFrame] = []
    lock = threading.Lock()

    def remember(stored: StoredFrame) -> None:
        with lock:
            outcomes.append(stored)

    with Spool(tmp_path) as spool:
        ingestor = Ingestor(spool, on_stored=remember).start()
        forgetful = source(mqtt_broker, topic, client_id, tmp_path, lambda record, _ack: ingestor.submit(record))
        forgetful.start()
        assert forgetful.connected.wait(10)
        publish(mqtt_broker, topic, range(MESSAGES))
        wait_until(lambda: len(outcomes) >= 1)
        time.sleep(0.5)
        unacknowledged = len(outcomes)  # the broker stops at its in-flight window without acknowledgements
        forgetful.stop()

        proper = source(mqtt_broker, topic, client_id, tmp_path, ingestor.submit)
        proper.start()
        wait_until(lambda: sum(not o.duplicate for o in outcomes) >= MESSAGES)
        time.sleep(0.5)
        proper.stop()
        ingestor.close()
        frames = spool.connection.execute("SELECT COUNT(*) FROM frames WHERE device = 'LYREDO0001'").fetchone()[0]

    redelivered = sum(o.duplicate for o in outcomes)
    assert frames == MESSAGES, "every message exactly once"
    assert redelivered >= unacknowledged > 0, "what was stored but not acknowledged came back, and was recognised"
    cleanup = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    cleanup.connect(mqtt_broker.host, mqtt_broker.port)
    cleanup.disconnect()
