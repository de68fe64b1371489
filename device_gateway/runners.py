"""Running sources: one object per SOURCE URL with ``run(stop)``, built from its spec and the gateway settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from device_gateway.adapters import Hj212Adapter, NmeaAdapter, mqtt_payload_records
from device_gateway.config import GatewaySettings
from device_gateway.errors import ConfigError
from device_gateway.modbus_runner import ModbusRunner
from device_gateway.protocols import hj212
from device_gateway.sources import SourceSpec
from device_gateway.spool import FrameRecord
from device_gateway.transports.mqtt import MqttEndpoint, MqttSource
from device_gateway.transports.serial import SerialSource
from device_gateway.transports.tcp import TcpListener

Submit = Callable[[FrameRecord, Callable[[], None] | None], None]


class Runner(Protocol):
    """A source: ``run`` reads until ``stop``; ``finish`` closes what must outlive the last commit."""

    label: str

    def run(self, stop: threading.Event) -> None: ...

    def finish(self) -> None: ...


@dataclass
class Hj212Line:
    """An HJ 212 stream whose replies (CN=9014, when a frame asks) go back the way the frame came."""

    adapter: Hj212Adapter

    def feed(self, data: bytes, received_at: datetime) -> list[tuple[FrameRecord, bytes | None]]:
        return [(record, _reply(packet, received_at)) for record, packet in self.adapter.feed(data, received_at)]

    def flush(self, received_at: datetime) -> list[tuple[FrameRecord, bytes | None]]:
        return [(record, _reply(packet, received_at)) for record, packet in self.adapter.flush(received_at)]


@dataclass
class NmeaLine:
    adapter: NmeaAdapter

    def feed(self, data: bytes, received_at: datetime) -> list[tuple[FrameRecord, bytes | None]]:
        return [(record, None) for record in self.adapter.feed(data, received_at)]

    def flush(self, received_at: datetime) -> list[tuple[FrameRecord, bytes | None]]:
        return [(record, None) for record in self.adapter.flush(received_at)]


def _reply(packet: hj212.Packet | None, received_at: datetime) -> bytes | None:
    if packet is None:
        return None
    return hj212.reply_for(packet, now=received_at.strftime("%Y%m%d%H%M%S%f")[:17])


@dataclass
class MqttRunner:
    label: str
    source: MqttSource

    def run(self, stop: threading.Event) -> None:
        self.source.start()
        stop.wait()

    def finish(self) -> None:
        self.source.stop()  # only now: acknowledgements of the last stored messages need the connection


def build_runner(
    spec: SourceSpec, *, settings: GatewaySettings, submit: Submit, visit: str | None, gateway_id: str
) -> Runner:
    """The runnable source for a spec."""
    settings = settings.with_overrides(spec.device_overrides())
    if spec.kind == "serial":
        return _serial_runner(spec, settings=settings, submit=submit, visit=visit)
    if spec.kind == "hj212-tcp":

        def adapter_for(_label: str) -> Hj212Line:
            return Hj212Line(Hj212Adapter(spec.label, settings, visit))

        return TcpListener(host=spec.host, port=spec.port, adapter_for=adapter_for, submit=submit, label=spec.label)
    if spec.kind == "mqtt":
        return _mqtt_runner(spec, settings=settings, submit=submit, visit=visit, gateway_id=gateway_id)
    if spec.kind == "modbus":
        return ModbusRunner(spec, submit=submit, visit=visit)
    raise ConfigError(f"{spec.label}: no runner for {spec.kind}")


def _serial_runner(spec: SourceSpec, *, settings: GatewaySettings, submit: Submit, visit: str | None) -> SerialSource:
    baud = int(spec.number("baud", 9600))
    if spec.params["protocol"] == "nmea":
        device = spec.params.get("device") or f"gnss@{spec.target}"
        line: Hj212Line | NmeaLine = NmeaLine(NmeaAdapter(spec.label, device, visit=visit))
    else:
        line = Hj212Line(Hj212Adapter(spec.label, settings, visit))
    return SerialSource(url=spec.target, baudrate=baud, adapter=line, submit=submit, label=spec.label)


def _mqtt_runner(
    spec: SourceSpec, *, settings: GatewaySettings, submit: Submit, visit: str | None, gateway_id: str
) -> MqttRunner:
    endpoint = MqttEndpoint(
        host=spec.host,
        port=spec.port,
        topic=spec.path.lstrip("/"),
        client_id=spec.params.get("client_id") or f"fieldproof-{gateway_id}",
        username=spec.username,
        password=spec.password,
    )

    def parse(payload: bytes, topic: str, received_at: datetime) -> list[FrameRecord]:
        source = f"mqtt://{spec.host}:{spec.port}/{topic}"
        return mqtt_payload_records(payload, source=source, settings=settings, received_at=received_at, visit=visit)

    return MqttRunner(spec.label, MqttSource(endpoint, parse=parse, submit=submit))
