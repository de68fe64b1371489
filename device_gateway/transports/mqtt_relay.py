"""The MQTT relay process: the paho client, forwarding messages to the gateway and acknowledging on its word.

Runs in a child process (see ``transports.mqtt``). Two one-way pipes connect it to the gateway: messages out
(``("message", mid, qos, topic, payload, received_at)``, ``("connected",)``, ``("disconnected",)``) and
instructions in (``("ack", mid, qos)`` once the gateway has committed a message, ``("stop",)``). When the
instruction pipe closes (the gateway stopped or died) the relay disconnects and exits; a message never
acknowledged is sent again by the broker to the next session.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


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


def relay_main(endpoint: MqttEndpoint, messages: Connection, instructions: Connection) -> None:
    """Entry point of the relay process."""
    client = _client(endpoint, messages)
    client.connect_async(endpoint.host, endpoint.port, keepalive=30)
    client.loop_start()
    try:
        _obey(client, instructions)
    finally:
        client.disconnect()
        client.loop_stop()
        messages.close()


def _client(endpoint: MqttEndpoint, messages: Connection) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=endpoint.client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
        manual_ack=True,
    )
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.reconnect_delay_set(min_delay=1, max_delay=30)

    def on_connect(client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("%s: connection refused: %s", endpoint.label, reason)
            return
        client.subscribe(endpoint.topic, qos=1)
        messages.send(("connected",))

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        received = time.time()
        messages.send(("message", message.mid, message.qos, message.topic, bytes(message.payload), received))

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_disconnect = lambda *_args: messages.send(("disconnected",))
    return client


def _obey(client: mqtt.Client, instructions: Connection) -> None:
    while True:
        try:
            item = instructions.recv()
        except (EOFError, OSError):
            return  # the gateway is gone: acknowledge nothing more
        if item[0] == "stop":
            return
        if item[0] == "ack" and item[2] > 0:
            client.ack(item[1], item[2])
