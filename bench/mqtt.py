"""Figure g: MQTT ingest with QoS 1 into the spool, against a bare paho subscriber that only counts.

Both variants receive the same messages from the same broker in the same run. Ours is what ``fieldproof gateway
listen mqtt://…`` runs: :class:`MqttSource` (fixed client id, persistent session, QoS 1, each message acknowledged
only after the spool has committed it) parsing with ``mqtt_payload_records`` and submitting to an
:class:`Ingestor` over a fresh :class:`Spool` (SQLite, ``synchronous=FULL``: one fsync per batch). The baseline
is a bare paho-mqtt client subscribed with QoS 1 whose ``on_message`` only counts (paho acknowledges at once).

The load is N JSON readings messages from one monitor (``encode_payload``: a sequence number, a time and three
readings each), published with QoS 1 by a paho client in a child process, as monitors are other machines: in
the harness's own process the publisher would compete with the subscriber under test for the GIL. Mosquitto
keeps at most 1000 queued QoS 1 messages per client and drops the rest, so the publisher stays at most
``WINDOW`` messages ahead of what the subscriber has received (baseline) or stored (ours), read from a counter in
shared memory. Rate = N / (time of the last receipt or storage - time of the first receipt). Each round also
times the publisher alone (no subscriber), the ceiling of what this load generator can feed. Every message must
arrive (and, for ours, the spool must hold N valid frames and 3N readings), or the run stops.
"""

from __future__ import annotations

import functools
import multiprocessing
import secrets
import shutil
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.files import workspace
from bench.progress import note
from bench.report import Figure, Goal, rate_text
from bench.timing import Samples, interleave
from device_gateway.adapters import mqtt_payload_records
from device_gateway.config import GatewaySettings
from device_gateway.ingest import Ingestor
from device_gateway.protocols.jsonline import encode_payload
from device_gateway.spool import FrameRecord, Spool, StoredFrame
from device_gateway.transports.mqtt import MqttEndpoint, MqttSource
from evidence.readings import Reading

INGEST_GOAL = Goal(">=", 0.5)
WINDOW = 500  # messages the publisher may be ahead of the subscriber under test (the broker queues at most 1000)
STALL_S = 30.0  # no progress for this long: messages were lost, the benchmark is broken
NAME = "g. MQTT QoS 1 ingest into the spool"
_DEVICE = "BENCH-DUST-0001"
_ZONE = timezone(timedelta(hours=8))
_OURS, _BARE, _ALONE = "MqttSource -> Ingestor -> Spool", "bare paho subscriber", "publisher alone"
_SPAWN = multiprocessing.get_context("spawn")  # the harness has threads running: no fork

Address = tuple[str, int]


class Arrivals:
    """What a subscriber under test has received or stored: a count (also in shared memory for the publisher),
    the wall-clock time of the first receipt and of the last arrival, and the process's CPU time since the first.
    """

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = self.cpu_first = self.cpu_last = 0.0
        self.shared: Any = _SPAWN.RawValue("q", 0)

    def begin(self) -> None:
        if not self.first:
            self.first, self.cpu_first = time.perf_counter(), time.process_time()

    def add(self) -> None:
        self.count += 1
        self.last = time.perf_counter()
        self.shared.value = self.count

    def seconds(self) -> float:
        return self.last - self.first

    def cpu_seconds(self) -> float:
        return self.cpu_last - self.cpu_first


class Run:
    """One trial's broker, fresh topic and client-id prefix, and the payloads to publish."""

    def __init__(self, broker: Address, payloads: list[bytes]) -> None:
        token = secrets.token_hex(6)
        self.broker, self.payloads = broker, payloads
        self.topic, self.prefix = f"fieldproof-bench/{token}/readings", f"fpbench-{token}"


def mqtt_figures(broker: Address, messages: int, rounds: int, workdir: Path) -> list[Figure]:
    """Figure g (our ingest rate over the bare subscriber's, goal >= 0.5), or a SKIP line if no broker listens."""
    reason = unreachable(broker)
    if reason:
        note(f"g. MQTT ingest not measured: {reason}")
        return [_skipped(broker, reason)]
    payloads = make_payloads(messages)
    size = sum(map(len, payloads)) / len(payloads)
    note(f"g. MQTT ingest: {messages:,} messages of {size:.0f} bytes, QoS 1, via {broker[0]}:{broker[1]}")
    cpu: dict[str, list[float]] = {_BARE: [], _OURS: []}
    with workspace(workdir) as work:
        trials: dict[str, Callable[[], float]] = {
            _ALONE: functools.partial(_alone_trial, broker, payloads),
            _BARE: _trial(_bare_trial, broker, payloads, cpu[_BARE]),
            _OURS: _trial(functools.partial(_ours_trial, work=work), broker, payloads, cpu[_OURS]),
        }
        samples = interleave(trials, rounds, "g. MQTT ingest")
    return [_ingest_figure(broker, messages, samples, cpu)]


def unreachable(broker: Address) -> str | None:
    """Why no MQTT broker answers at ``broker`` (None if one accepts a connection)."""
    where = f"{broker[0]}:{broker[1]}"
    try:
        socket.create_connection(broker, timeout=2).close()
    except OSError as exc:
        return f"nothing listens on {where} ({exc.strerror or exc}); start Mosquitto or pass --mqtt HOST:PORT"
    try:
        reason = _connack(broker)
    except OSError as exc:
        return f"cannot connect to {where}: {exc}"
    if reason is None:
        return f"{where} accepts TCP but sends no MQTT CONNACK within 5 s"
    return f"{where} refused the MQTT connection: {reason}" if reason.is_failure else None


def _connack(broker: Address) -> Any:
    """The reason code of the broker's CONNACK to a throw-away client, or None if none came within 5 seconds."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fpbench-{secrets.token_hex(6)}-probe")
    answers: list[Any] = []
    client.on_connect = lambda _client, _userdata, _flags, reason, _props: answers.append(reason)
    client.connect(*broker, keepalive=30)
    client.loop_start()
    deadline = time.monotonic() + 5
    while not answers and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return answers[0] if answers else None


def make_payloads(count: int) -> list[bytes]:
    """``count`` JSON readings messages of one dust monitor: seq 0.., one a minute, PM2.5, PM10, temperature."""
    start = datetime(2026, 11, 29, 8, 0, tzinfo=_ZONE)
    return [
        encode_payload(
            device=_DEVICE,
            seq=seq,
            time=start + timedelta(minutes=seq),
            readings=[
                Reading("a34004", "Rtd", round(20 + seq % 97 * 0.7, 1), "N", unit="ug/m3"),
                Reading("a34002", "Rtd", round(45 + seq % 89 * 1.3, 1), "N", unit="ug/m3"),
                Reading("a01001", "Rtd", round(12 + seq % 50 * 0.1, 1), "N", unit="degC"),
            ],
        )
        for seq in range(count)
    ]


def _trial(
    variant: Callable[[Run], Arrivals], broker: Address, payloads: list[bytes], cpu: list[float]
) -> Callable[[], float]:
    """One timed repetition of a subscriber variant on a fresh topic; notes its CPU time per message."""

    def trial() -> float:
        arrivals = variant(Run(broker, payloads))
        cpu.append(arrivals.cpu_seconds() / len(payloads))
        return arrivals.seconds()

    return trial


def _bare_trial(run: Run) -> Arrivals:
    """The baseline: subscribe with QoS 1 (paho acknowledges at once), count, stamp the first and last message."""
    arrivals = Arrivals()

    def on_message(_client: mqtt.Client, _userdata: object, _message: mqtt.MQTTMessage) -> None:
        arrivals.begin()
        arrivals.add()

    with _subscribed(run.broker, f"{run.prefix}-bare", run.topic, on_message=on_message):
        _feed(run, arrivals)
    return arrivals


def _ours_trial(run: Run, *, work: Path) -> Arrivals:
    """Our pipeline on a fresh spool; its persistent session is made (subscribed) first and deleted afterwards."""
    client_id = f"{run.prefix}-ours"
    directory = Path(tempfile.mkdtemp(prefix="spool-", dir=work))
    try:
        with _subscribed(run.broker, client_id, run.topic, clean=False):
            pass  # the session and its subscription exist before anything is published, as for a gateway
        arrivals = _ingest(run, client_id, directory)
        _check_spool(directory, len(run.payloads))
    finally:
        _drop_session(run.broker, client_id)
        shutil.rmtree(directory)
    return arrivals


def _ingest(run: Run, client_id: str, directory: Path) -> Arrivals:
    """Feed every payload through ``MqttSource`` → ``Ingestor`` → ``Spool``, wired as ``gateway listen`` does."""
    arrivals, settings = Arrivals(), GatewaySettings(directory)
    source_label = f"mqtt://{run.broker[0]}:{run.broker[1]}/{run.topic}"

    def parse(payload: bytes, _topic: str, received_at: datetime) -> list[FrameRecord]:
        arrivals.begin()
        return mqtt_payload_records(
            payload, source=source_label, settings=settings, received_at=received_at, visit=None
        )

    def on_stored(_stored: StoredFrame) -> None:
        arrivals.add()

    with Spool(directory) as spool:
        ingestor = Ingestor(spool, on_stored=on_stored).start()
        source = MqttSource(MqttEndpoint(*run.broker, run.topic, client_id), parse=parse, submit=ingestor.submit)
        source.start()
        try:
            if not source.connected.wait(10):
                raise RuntimeError(f"g. MQTT ingest: MqttSource did not connect to {source.endpoint.label}")
            _feed(run, arrivals, lambda: ingestor.failure)
        finally:
            ingestor.close()  # everything submitted is committed and acknowledged...
            source.stop()  # ...before the connection closes, as ``gateway listen`` does
    return arrivals


def _check_spool(directory: Path, expected: int) -> None:
    with closing(sqlite3.connect(directory / "spool.sqlite3")) as db:
        frames = db.execute("SELECT count(*) FROM frames WHERE error IS NULL").fetchone()[0]
        readings = db.execute("SELECT count(*) FROM readings").fetchone()[0]
    if (frames, readings) != (expected, 3 * expected):
        raise RuntimeError(
            f"g. MQTT ingest: the spool holds {frames:,} valid frames and {readings:,} readings, "
            f"expected {expected:,} and {3 * expected:,}: the benchmark is broken"
        )


@contextmanager
def _subscribed(
    broker: Address,
    client_id: str,
    topic: str,
    *,
    clean: bool = True,
    on_message: Callable[[mqtt.Client, object, mqtt.MQTTMessage], None] | None = None,
) -> Iterator[mqtt.Client]:
    """A paho client subscribed to ``topic`` with QoS 1 (the broker has confirmed it), its network loop running."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    if on_message is not None:
        client.on_message = on_message
    client.connect(*broker, keepalive=30)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        if not subscribed.wait(10):
            raise RuntimeError(f"g. MQTT ingest: no SUBACK from {broker[0]}:{broker[1]} for {topic}")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def _drop_session(broker: Address, client_id: str) -> None:
    """Delete a persistent session: connect once with its client id and ``clean_session=True``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(*broker, keepalive=30)
    client.loop_start()
    connected.wait(10)
    client.disconnect()
    client.loop_stop()


def _feed(run: Run, arrivals: Arrivals, failure: Callable[[], BaseException | None] = lambda: None) -> None:
    """Publish every payload from a child process, paced by ``arrivals``; return once all of them have arrived.

    ``failure`` tells whether the subscriber under test has failed (then waiting longer is pointless)."""
    publisher = _start_publisher(run, arrivals.shared)
    try:
        _wait_for_all(arrivals, len(run.payloads), publisher, failure)
    finally:
        _stop(publisher)
    arrivals.cpu_last = time.process_time()
    _check_exit(publisher)
    if arrivals.count != len(run.payloads):
        raise RuntimeError(f"g. MQTT ingest: {arrivals.count:,} arrivals for {len(run.payloads):,} messages sent")


def _alone_trial(broker: Address, payloads: list[bytes]) -> float:
    """The publisher alone, to a topic nobody subscribes to: seconds from the first publish to the last PUBACK."""
    run, elapsed = Run(broker, payloads), _SPAWN.RawValue("d", 0.0)
    publisher = _start_publisher(run, None, elapsed)
    try:
        publisher.join(STALL_S + 10)
    finally:
        _stop(publisher)
    _check_exit(publisher)
    return float(elapsed.value)


def _start_publisher(run: Run, progress: Any, elapsed: Any = None) -> multiprocessing.process.BaseProcess:
    process = _SPAWN.Process(target=publish, args=(run, progress, elapsed), name="g-publisher", daemon=True)
    process.start()
    return process


def _wait_for_all(
    arrivals: Arrivals,
    expected: int,
    publisher: multiprocessing.process.BaseProcess,
    failure: Callable[[], BaseException | None],
) -> None:
    """Poll every 20 ms until all arrived; fail loudly if the publisher or the subscriber failed, or if nothing
    arrived for ``STALL_S`` seconds (messages were lost)."""
    seen, deadline = arrivals.count, time.monotonic() + STALL_S
    while arrivals.count < expected:
        time.sleep(0.02)
        _check_exit(publisher)
        if failure() is not None:
            raise RuntimeError(f"g. MQTT ingest: the subscriber under test failed: {failure()}")
        if arrivals.count != seen:
            seen, deadline = arrivals.count, time.monotonic() + STALL_S
        elif time.monotonic() > deadline:
            raise RuntimeError(
                f"g. MQTT ingest: {arrivals.count:,} of {expected:,} messages arrived and nothing more for "
                f"{STALL_S:.0f} s: messages were lost (broker queue limit?), the benchmark is broken"
            )


def _stop(publisher: multiprocessing.process.BaseProcess) -> None:
    """Let the publisher finish (it exits once its last PUBACK is in), or kill it after 10 seconds."""
    publisher.join(10)
    if publisher.is_alive():
        publisher.kill()
        publisher.join()


def _check_exit(publisher: multiprocessing.process.BaseProcess) -> None:
    if publisher.exitcode:
        raise RuntimeError(f"g. MQTT ingest: the publisher failed (exit status {publisher.exitcode}; see stderr)")


def publish(run: Run, progress: Any, elapsed: Any) -> None:
    """The child process: publish with QoS 1, at most ``WINDOW`` ahead of ``progress`` (None: unpaced); wait for
    every PUBACK; put the seconds from the first publish to the last PUBACK in ``elapsed`` if given."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{run.prefix}-publisher", clean_session=True)
    client.connect(*run.broker, keepalive=30)
    client.loop_start()
    try:
        start = time.perf_counter()
        for number, payload in enumerate(run.payloads):
            while progress is not None and number - progress.value >= WINDOW:
                time.sleep(0.001)
            last = client.publish(run.topic, payload, qos=1)
        last.wait_for_publish(STALL_S)  # PUBACKs come in order
        if elapsed is not None:
            elapsed.value = time.perf_counter() - start
    finally:
        client.disconnect()
        client.loop_stop()


def _ingest_figure(broker: Address, messages: int, samples: dict[str, Samples], cpu: dict[str, list[float]]) -> Figure:
    ours, bare, alone = samples[_OURS], samples[_BARE], samples[_ALONE]
    ratio, median_ratio = bare.best / ours.best, bare.median / ours.median
    ours_cpu, bare_cpu = statistics.median(cpu[_OURS]), statistics.median(cpu[_BARE])
    return Figure(
        key="g.mqtt_ingest",
        name=NAME,
        measured=f"{_rates(messages, ours)}, {ours_cpu * 1e6:.0f} µs CPU/message",
        baseline=(
            f"bare paho subscriber: {_rates(messages, bare)}, {bare_cpu * 1e6:.0f} µs CPU/message; "
            f"publisher alone: {_rates(messages, alone)}"
        ),
        ratio=ratio,
        ratio_text=f"{ratio:.2f} (median {median_ratio:.2f})",
        goal=INGEST_GOAL,
        values={
            "broker": f"{broker[0]}:{broker[1]}",
            "messages": messages,
            "window": WINDOW,
            "seconds": list(ours.seconds),
            "baseline_seconds": list(bare.seconds),
            "publisher_alone_seconds": list(alone.seconds),
            "messages_per_second": messages / ours.best,
            "baseline_messages_per_second": messages / bare.best,
            "publisher_alone_messages_per_second": messages / alone.best,
            "cpu_seconds_per_message": cpu[_OURS],
            "baseline_cpu_seconds_per_message": cpu[_BARE],
            "median_ratio": median_ratio,
        },
    )


def _rates(messages: int, samples: Samples) -> str:
    return f"{rate_text(messages / samples.best)} (median {rate_text(messages / samples.median)})"


def _skipped(broker: Address, reason: str) -> Figure:
    return Figure(
        key="g.mqtt_ingest",
        name=NAME,
        measured=f"not measured: {reason}",
        baseline="bare paho subscriber",
        ratio=None,
        goal=INGEST_GOAL,
        skipped=reason,
        values={"broker": f"{broker[0]}:{broker[1]}"},
    )
