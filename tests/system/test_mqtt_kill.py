"""A gateway killed with SIGKILL in the middle of a 10,000-message QoS 1 stream loses nothing and stores nothing twice.

The gateway runs as a real process (``fieldproof gateway listen mqtt://…``) against a real broker. The test
publishes a stream of numbered JSON readings with QoS 1, kills the gateway outright once it has stored a few
thousand, publishes more while it is down (kept below Mosquitto's default limit of 1000 queued messages per
offline client), restarts it, publishes the rest, and then checks the spool: every message exactly once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.protocols.jsonline import encode_payload
from evidence.readings import Reading
from tests.system.conftest import Broker, fieldproof_command

TOTAL = 10_000
KILL_AFTER = 3_000
PUBLISHED_WHILE_DOWN = 500
DEVICE = "LYKILL0001"


# Mosquitto drops QoS 1 messages beyond 1000 queued per client, connected or not: while the gateway is up the
# publisher stays at most MAX_AHEAD ahead of it, so the backlog at the kill plus what is published while it is
# down (MAX_AHEAD + PUBLISHED_WHILE_DOWN) stays under that limit.
MAX_AHEAD = 200


class Publisher:
    """Publishes numbered messages with QoS 1, never more than MAX_AHEAD ahead of what the gateway stored."""

    def __init__(self, broker: Broker, topic: str, stored: Callable[[], int]) -> None:
        self.topic = topic
        self.stored = stored
        self.next_seq = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kill-test-publisher-{uuid.uuid4().hex[:8]}")
        self.client.max_inflight_messages_set(100)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish_until(
        self, last_seq: int, keep_going: Callable[[], bool] = lambda: True, *, throttle: bool = True
    ) -> None:
        pending = []
        while self.next_seq < last_seq and keep_going():
            if throttle and self.next_seq - self.stored() >= MAX_AHEAD:
                time.sleep(0.01)
                continue
            payload = encode_payload(
                device=DEVICE,
                seq=self.next_seq,
                time=datetime.now(UTC),
                readings=[Reading("a34004", "Rtd", float(self.next_seq % 500), "N", None, "ug/m3")],
            )
            pending.append(self.client.publish(self.topic, payload, qos=1))
            self.next_seq += 1
        for message in pending:
            message.wait_for_publish(timeout=60)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_gateway(data: Path, broker: Broker, topic: str, client_id: str) -> subprocess.Popen[bytes]:
    source = f"mqtt://{broker.host}:{broker.port}/{topic}?client_id={client_id}"
    with open(data.parent / "gateway.out", "ab") as out, open(data.parent / "gateway.err", "ab") as err:
        return subprocess.Popen(
            [*fieldproof_command(), "gateway", "listen", source, "--data", str(data), "--json"], stdout=out, stderr=err
        )


def stored_frames(data: Path) -> int:
    path = data / "spool.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM frames WHERE device = ?", (DEVICE,)).fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def create_persistent_session(broker: Broker, topic: str, client_id: str) -> None:
    """Subscribe once as the gateway's client id, so the broker queues for it from this moment on."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    assert subscribed.wait(10), "broker did not confirm the subscription"
    client.disconnect()
    client.loop_stop()


def remove_session(broker: Broker, client_id: str) -> None:
    """Connect once with a clean session: the broker forgets the test's persistent session."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(broker.host, broker.port)
    client.disconnect()


def test_sigkill_mid_stream_then_restart_stores_every_message_exactly_once(
    tmp_path: Path, session_broker: Broker
) -> None:
    mqtt_broker = session_broker
    data = tmp_path / "data"
    topic = f"fieldproof-test/{uuid.uuid4().hex}/readings"
    client_id = f"fieldproof-kill-test-{uuid.uuid4().hex[:8]}"
    create_persistent_session(mqtt_broker, topic, client_id)
    publisher = Publisher(mqtt_broker, topic, lambda: stored_frames(data))
    gateway = start_gateway(data, mqtt_broker, topic, client_id)
    try:
        stream = threading.Thread(target=publisher.publish_until, args=(TOTAL, lambda: gateway.poll() is None))
        stream.start()
        wait_for(lambda: stored_frames(data) >= KILL_AFTER, 120, f"{KILL_AFTER} stored frames")
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(10)
        stream.join(60)
        killed_at = stored_frames(data)
        assert killed_at < TOTAL, "the gateway must be killed mid-stream"
        # The gateway is down: its backlog grows at the broker.
        publisher.publish_until(min(publisher.next_seq + PUBLISHED_WHILE_DOWN, TOTAL), throttle=False)

        gateway = start_gateway(data, mqtt_broker, topic, client_id)
        publisher.publish_until(TOTAL)
        wait_for(lambda: stored_frames(data) >= TOTAL, 180, f"all {TOTAL} frames")
        time.sleep(1.0)  # any late redelivery would arrive now; it must not be stored again
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(60) == 0, (tmp_path / "gateway.err").read_text()
    finally:
        publisher.close()
        if gateway.poll() is None:
            gateway.kill()
        remove_session(mqtt_broker, client_id)

    assert_exactly_once(data)
    summary = json.loads((tmp_path / "gateway.out").read_text().strip().splitlines()[-1])
    assert summary["event"] == "summary"
    redelivered = sum(source["duplicates"] for source in summary["sources"].values())
    print(f"\nkilled after {killed_at} stored frames; {redelivered} redeliveries recognised; {mqtt_broker.kind}")


def assert_exactly_once(data: Path) -> None:
    with sqlite3.connect(data / "spool.sqlite3") as db:
        payloads = [row[0] for row in db.execute("SELECT raw FROM frames WHERE device = ?", (DEVICE,))]
        readings = db.execute("SELECT COUNT(*) FROM readings WHERE device = ?", (DEVICE,)).fetchone()[0]
        unsealed = db.execute("SELECT COUNT(*) FROM frames WHERE id NOT IN (SELECT frame_id FROM item_frames)")
        sealed_frames = db.execute(
            "SELECT COUNT(*) FROM item_frames x JOIN frames f ON f.id = x.frame_id WHERE f.device = ?", (DEVICE,)
        ).fetchone()[0]
        unsealed_count = unsealed.fetchone()[0]
    sequence_numbers = sorted(json.loads(payload)["seq"] for payload in payloads)
    assert sequence_numbers == list(range(TOTAL)), "every message exactly once"
    assert readings == TOTAL
    assert unsealed_count == 0, "frames of the killed run are sealed by the next run"
    assert sealed_frames == TOTAL
