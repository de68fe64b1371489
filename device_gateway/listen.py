"""A listening session: every source in its own thread, one writer, early warning, sealing at the end.

Stopping (Ctrl-C, SIGTERM, or a duration) stops the sources, lets the writer store everything already received,
then seals each device's frames of this visit into a sensor-batch evidence item. A session killed outright
(SIGKILL, power loss) loses nothing that was acknowledged: frames are on disk, and the next session seals them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from device_gateway.config import GatewaySettings
from device_gateway.gps import GnssTrack
from device_gateway.identity import gateway_key
from device_gateway.ingest import Ingestor
from device_gateway.runners import Runner, build_runner
from device_gateway.sources import SourceSpec
from device_gateway.spool import FrameRecord, Spool, StoredFrame
from device_gateway.spool.batches import SealedBatch, seal_pending_batches
from evidence import standards
from evidence.readings import Reading

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 10.0


@dataclass
class SourceCounts:
    frames: int = 0
    invalid: int = 0
    duplicates: int = 0
    readings: int = 0
    exceedances: int = 0
    last_device: str | None = None
    last_received_at: datetime | None = None


@dataclass(frozen=True)
class Warning:
    """An exceedance as it happened: which device, which reading, which limit."""

    device: str
    reading: Reading
    exceedance: standards.Exceedance


@dataclass
class ListenResult:
    counts: dict[str, SourceCounts]
    sealed: list[SealedBatch] = field(default_factory=list)
    failure: str | None = None


class ListenSession:
    def __init__(
        self,
        specs: Sequence[SourceSpec],
        *,
        settings: GatewaySettings,
        visit: str | None = None,
        on_warning: Callable[[Warning], None] | None = None,
    ) -> None:
        self.specs = list(specs)
        self.settings = settings
        self.visit = visit
        self.on_warning = on_warning
        self.counts = {spec.label: SourceCounts() for spec in self.specs}
        self.runners: list[Runner] = []
        self._spec_of: dict[int, str] = {}
        self._lock = threading.Lock()

    def run(self, stop: threading.Event, *, started: Callable[[], None] | None = None) -> ListenResult:
        key = gateway_key(self.settings.data_dir)
        with Spool(self.settings.data_dir) as spool:
            ingestor = Ingestor(spool, on_stored=self._on_stored, warn=self._exceedances).start()
            threads = self._start_runners(ingestor, gateway_id=key.name, stop=stop)
            if started is not None:
                started()
            stop.wait()
            for thread in threads:
                thread.join(JOIN_TIMEOUT_S)
            ingestor.close()  # the last frames are committed and acknowledged...
            for runner in self.runners:
                runner.finish()  # ...before any connection is closed
            failure = None if ingestor.failure is None else str(ingestor.failure)
            sealed = seal_pending_batches(spool, key=key, now=datetime.now(UTC), track=track_from(spool))
        return ListenResult(self.counts, sealed, failure)

    def _start_runners(self, ingestor: Ingestor, *, gateway_id: str, stop: threading.Event) -> list[threading.Thread]:
        threads = []
        for spec in self.specs:
            runner = build_runner(
                spec,
                settings=self.settings,
                submit=self._submitter(spec, ingestor),
                visit=self.visit,
                gateway_id=gateway_id,
            )
            self.runners.append(runner)
            thread = threading.Thread(target=_guarded(runner, stop), name=f"source {spec.label}", daemon=True)
            thread.start()
            threads.append(thread)
        return threads

    def _submitter(
        self, spec: SourceSpec, ingestor: Ingestor
    ) -> Callable[[FrameRecord, Callable[[], None] | None], None]:
        def submit(record: FrameRecord, after_commit: Callable[[], None] | None) -> None:
            with self._lock:
                counts = self.counts[spec.label]
                counts.frames += 1
                counts.invalid += record.error is not None
                counts.last_device, counts.last_received_at = record.device, record.received_at
                self._spec_of[id(record)] = spec.label
            ingestor.submit(record, after_commit)

        return submit

    def _on_stored(self, stored: StoredFrame) -> None:
        with self._lock:
            label = self._spec_of.pop(id(stored.record), None)
            counts = self.counts[label] if label is not None else SourceCounts()
            counts.duplicates += stored.duplicate
            counts.readings += len(stored.new_readings)
            counts.exceedances += len(stored.exceedances)
        if self.on_warning is not None:
            for reading, exceedance in stored.exceedances:
                self.on_warning(Warning(stored.record.device, reading, exceedance))

    def _exceedances(self, device: str, reading: Reading) -> list[standards.Exceedance]:
        settings = self.settings.device(device)
        chosen = (settings.standard, settings.grade) if settings.standard and settings.grade else None
        standard_grade = chosen or standards.default_standard(reading.code)
        if standard_grade is None:
            return []
        standard, grade = standard_grade
        return standards.check(reading, standard=standard, grade=grade)


def track_from(spool: Spool) -> GnssTrack:
    track = GnssTrack()
    for fix in spool.fixes():
        track.add(fix)
    return track


def _guarded(runner: Runner, stop: threading.Event) -> Callable[[], None]:
    def run() -> None:
        try:
            runner.run(stop)
        except Exception:
            log.exception("source %s failed", runner.label)

    return run
