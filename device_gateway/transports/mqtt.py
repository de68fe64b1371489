"""MQTT subscriber: monitors that publish to a broker on the field hotspot.

QoS 1 with a persistent session: a fixed client id and ``clean_session=False``, so the broker keeps what arrives
while the gateway is away, and ``manual_ack=True``, so a message is acknowledged (PUBACK) only after the spool has
committed it. A gateway killed between commit and acknowledgement gets the message again on reconnect; the spool
recognises it by its bytes and stores it once. Retained messages are stored like any other.

The MQTT client runs in a small relay process (``mqtt_relay``): it receives messages and sends each, with its
message id, to the gateway over a pipe; the gateway parses and stores it and sends the id back once committed, and
only then does the relay acknowledge it to the broker. Network handling and storage thus run on two cores instead
of taking turns on one. A relay whose gateway dies (even by SIGKILL) sees its pipe close and exits without
acknowledging anything more.

Operators: Mosquitto keeps at most ``max_queued_messages`` (1000 by default) per client, connected or not;
raise it on a broker whose monitors may publish more than the gateway stores, or while it is away.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from device_gateway.spool import FrameRecord
from device_gateway.transports.mqtt_relay import MqttEndpoint, relay_main

log = logging.getLogger(__name__)

ParsePayload = Callable[[bytes, str, datetime], list[FrameRecord]]
Submit = Callable[[FrameRecord, Callable[[], None] | None], None]
RESTART_DELAY_S = 2.0

__all__ = ["MqttEndpoint", "MqttSource"]


class MqttSource:
    """Subscribes to one topic filter and hands every message to ``submit`` with its acknowledgement."""

    def __init__(self, endpoint: MqttEndpoint, *, parse: ParsePayload, submit: Submit) -> None:
        self.endpoint = endpoint
        self._parse = parse
        self._submit = submit
        self.connected = threading.Event()
        self.received = 0
        self._stopping = threading.Event()
        self._acks: Connection | None = None
        self._ack_lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reader = threading.Thread(target=self._supervise, name=f"mqtt {endpoint.label}", daemon=True)

    def start(self) -> None:
        self._reader.start()

    def stop(self) -> None:
        """Disconnect: the relay sends what acknowledgements it has been given, then leaves."""
        self._stopping.set()
        self._send_to_relay(("stop",))
        self._reader.join(15)
        if self._process is not None and self._process.is_alive():
            self._process.terminate()

    def _supervise(self) -> None:
        """Run the relay and read its messages; start a new relay if it dies while the gateway runs."""
        while not self._stopping.is_set():
            messages = self._start_relay()
            self._read(messages)
            self.connected.clear()
            if not self._stopping.is_set():
                log.warning("%s: MQTT relay stopped; restarting", self.endpoint.label)
                self._stopping.wait(RESTART_DELAY_S)

    def _start_relay(self) -> Connection:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        messages_out, messages_in = context.Pipe(duplex=False)
        acks_out, acks_in = context.Pipe(duplex=False)
        process = context.Process(target=relay_main, args=(self.endpoint, messages_in, acks_out), daemon=True)
        process.start()
        messages_in.close()
        acks_out.close()
        with self._ack_lock:
            self._acks, self._process = acks_in, process
        return messages_out

    def _read(self, messages: Connection) -> None:
        while True:
            try:
                item = messages.recv()
            except (EOFError, OSError):
                return
            if item[0] == "message":
                self._on_message(*item[1:])
            elif item[0] == "connected":
                self.connected.set()
            elif item[0] == "disconnected":
                self.connected.clear()

    def _on_message(self, mid: int, qos: int, topic: str, payload: bytes, received_ts: float) -> None:
        self.received += 1
        received_at = datetime.fromtimestamp(received_ts, UTC)
        records = self._parse(payload, topic, received_at)
        acknowledge = _after_all(len(records), lambda: self._send_to_relay(("ack", mid, qos)))
        for record in records:
            self._submit(record, acknowledge)
        if not records:
            acknowledge()

    def _send_to_relay(self, item: tuple[object, ...]) -> None:
        with self._ack_lock:
            if self._acks is None:
                return
            try:
                self._acks.send(item)
            except (OSError, ValueError):
                log.info(
                    "%s: relay gone; %s not delivered (the broker resends unacknowledged messages)",
                    self.endpoint.label,
                    item[0],
                )


def _after_all(count: int, action: Callable[[], None]) -> Callable[[], None]:
    """A callback that runs ``action`` once it has been called ``count`` times (once every record is stored)."""
    remaining = [max(count, 1)]
    lock = threading.Lock()

    def one_done() -> None:
        with lock:
            remaining[0] -= 1
            done = remaining[0] == 0
        if done:
            action()

    return one_done
