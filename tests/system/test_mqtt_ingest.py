"""`fieldproof gateway listen mqtt://…` against a real broker: JSON readings and HJ 212 payloads into the spool."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.simulators.mqtt_monitor import MqttMonitorSimulator
from tests.system.conftest import Broker, fieldproof_command


def test_listen_stores_json_and_hj212_payloads_and_flags_exceedances(tmp_path: Path, mqtt_broker: Broker) -> None:
    base = f"fieldproof-test/{uuid.uuid4().hex}"
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    source = f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/{base}/#?client_id={client_id}"
    if mqtt_broker.keeps_sessions:
        _open_session(mqtt_broker, client_id, f"{base}/#")
    settings = tmp_path / "data" / "gateway.toml"
    settings.parent.mkdir()
    settings.write_text('[devices.LYMQTT0002]\nunits = { a34004 = "ug/m3", a34002 = "ug/m3", a34001 = "ug/m3" }\n')
    out_path = tmp_path / "listen.out"
    with open(out_path, "wb") as out:
        listener = subprocess.Popen(
            [
                *fieldproof_command(),
                "gateway",
                "listen",
                source,
                "--data",
                str(tmp_path / "data"),
                "--duration",
                "6",
                "--json",
            ],
            stdout=out,
            stderr=subprocess.PIPE,
        )
        if not mqtt_broker.keeps_sessions:
            time.sleep(2.0)  # embedded broker: no queued session, so give the listener time to subscribe
        common = {"host": mqtt_broker.host, "port": mqtt_broker.port, "count": 4, "interval": 0.0, "exceed": True}
        MqttMonitorSimulator(topic=f"{base}/json", device="LYMQTT0001", **common).run()  # type: ignore[arg-type]
        MqttMonitorSimulator(topic=f"{base}/hj212", device="LYMQTT0002", payload_format="hj212", **common).run()  # type: ignore[arg-type]
        _, err = listener.communicate(timeout=60)
    if mqtt_broker.keeps_sessions:
        _close_session(mqtt_broker, client_id)
    assert listener.returncode == 0, err.decode()
    events = [json.loads(line) for line in out_path.read_text().splitlines()]
    summary = events[-1]["sources"][source]
    print(f"\nbroker: {mqtt_broker.kind}")
    assert summary["frames"] == 8
    assert summary["invalid"] == 0
    sealed = {e["device"]: e for e in events if e["event"] == "sealed"}
    assert set(sealed) == {"LYMQTT0001", "LYMQTT0002"}
    assert any(e["event"] == "exceedance" for e in events), "payload units (JSON) and gateway.toml units (HJ 212)"


def _open_session(broker: Broker, client_id: str, topic: str) -> None:
    """Subscribe the listener's persistent session before it starts: the broker then queues what is published
    meanwhile, however long the listener takes to connect (no race with the publishers)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        _subscribe(client, topic)
    finally:
        client.loop_stop()
        client.disconnect()


def _subscribe(client: mqtt.Client, topic: str) -> None:
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.subscribe(topic, qos=1)
    assert subscribed.wait(10), "the broker did not confirm the subscription"


def _close_session(broker: Broker, client_id: str) -> None:
    cleanup = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    cleanup.connect(broker.host, broker.port)
    cleanup.disconnect()
