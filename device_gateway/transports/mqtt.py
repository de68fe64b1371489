"""MQTT subscriber: monitors that publish to a broker on the field hotspot.

QoS 1 with a persistent session: a fixed client id and ``clean_session=False``, so the broker keeps what arrives
while the gateway is away, and ``manual_ack=True``, so a message is acknowledged (PUBACK) only after the spool has
committed it. A gateway killed between commit and acknowledgement gets the message again on reconnect; the spool
recognises it by its bytes and stores it once. The retain flag is never used for readings: a retained message is
stored like any other but marked, since it may be old.

Operators: Mosquitto keeps at most ``max_queued_messages`` (1000 by default) per offline client; raise it on a
broker whose monitors may publish more than that while the gateway is away.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from device_gateway.errors import ConfigError
from device_gateway.spool import FrameRecord

log = logging.getLogger(__name__)

ParsePayload = Callable[[bytes, str, datetime], list[FrameRecord]]
Submit = Callable[[FrameRecord, Callable[[], None] | None], None]


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    topic: str
    client_id: str
    username: str | None = None
    password: str | None = None

    @property
    def label(self) -> str:
        return f"mqtt://{self.host}:{self.port}/{self.topic}"


class MqttSource:
    """Subscribes to one topic filter and hands every message to ``submit`` with its acknowledgement."""

    def __init__(self, endpoint: MqttEndpoint, *, parse: ParsePayload, submit: Submit) -> None:
        self.endpoint = endpoint
        self._parse = parse
        self._submit = submit
        self.connected = threading.Event()
        self.received = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=endpoint.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)

    def start(self) -> None:
        try:
            self._client.connect_async(self.endpoint.host, self.endpoint.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.endpoint.label}: cannot connect: {exc}") from exc
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("%s: connection refused: %s", self.endpoint.label, reason)
            return
        client.subscribe(self.endpoint.topic, qos=1)
        self.connected.set()

    def _on_disconnect(self, *_args: object) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        received_at = datetime.now(UTC)
        self.received += 1
        records = self._parse(bytes(message.payload), message.topic, received_at)
        acknowledge = _after_all(len(records), lambda: self._ack(client, message))
        for record in records:
            self._submit(record, acknowledge)

    def _ack(self, client: mqtt.Client, message: mqtt.MQTTMessage) -> None:
        if message.qos > 0:
            result = client.ack(message.mid, message.qos)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.warning(
                    "%s: acknowledgement of message %d not sent (%s); the broker will resend it",
                    self.endpoint.label,
                    message.mid,
                    result,
                )


def _after_all(count: int, action: Callable[[], None]) -> Callable[[], None]:
    """A callback that runs ``action`` once it has been called ``count`` times (once every record is stored)."""
    remaining = [count]
    lock = threading.Lock()

    def one_done() -> None:
        with lock:
            remaining[0] -= 1
            done = remaining[0] == 0
        if done:
            action()

    return one_done
