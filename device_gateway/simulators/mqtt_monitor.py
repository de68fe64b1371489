"""A monitor publishing readings to an MQTT broker (QoS 1), as JSON readings or as HJ 212 frames."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.protocols import hj212, jsonline
from device_gateway.simulators.monitor import CHINA
from device_gateway.simulators.readings import ReadingWalk


@dataclass
class MqttMonitorSimulator:
    host: str = "127.0.0.1"
    port: int = 1883
    topic: str = "fieldproof/site/LYMQTT0001/readings"
    device: str = "LYMQTT0001"
    count: int = 10
    interval: float = 0.5
    payload_format: str = "json"  # or "hj212"
    exceed: bool = False
    first_seq: int = 0
    published: int = 0

    def payload(self, seq: int, walk: ReadingWalk) -> bytes:
        now = datetime.now(UTC).astimezone(CHINA)
        readings = walk.next()
        if self.payload_format == "hj212":
            cp = hj212.encode_readings_cp(now.strftime("%Y%m%d%H%M%S"), readings)
            qn = now.strftime("%Y%m%d%H%M%S") + f"{seq % 1000:03d}"
            return hj212.encode_frame(qn=qn, st="22", cn="2011", pw="123456", mn=self.device, flag=4, cp=cp)
        return jsonline.encode_payload(device=self.device, seq=seq, time=now, readings=readings)

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        # unique per run: two simulators of one device on a broker would otherwise disconnect each other
        client_id = f"simulator-{self.device}-{secrets.token_hex(3)}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        client.connect(self.host, self.port)
        client.loop_start()
        walk = ReadingWalk("dust", self.exceed, seed=3)
        try:
            for seq in range(self.first_seq, self.first_seq + self.count):
                if stop.is_set():
                    break
                client.publish(self.topic, self.payload(seq, walk), qos=1).wait_for_publish(timeout=10)
                self.published += 1
                stop.wait(self.interval)
        finally:
            client.disconnect()
            client.loop_stop()
