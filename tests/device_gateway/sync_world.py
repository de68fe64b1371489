"""A real server in a subprocess and a real gateway spool, for the sync tests.

``LiveServer`` runs ``fieldproof server`` on a free port (SQLite in its data folder, or a PostgreSQL URL), after
bootstrapping a unit, an investigator, a prosecutor and enrollment codes with ``server.admin`` (as ``fieldproof
admin`` does). ``fill_spool`` imports generated JPEGs with EXIF GPS through the media importer and seals a sensor
batch of HJ 212-like frames with readings, as ``gateway listen`` does.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from device_gateway.identity import gateway_key
from device_gateway.media.importer import ImportOptions, import_media
from device_gateway.spool import FrameRecord, Spool
from device_gateway.spool.batches import seal_pending_batches
from evidence.readings import Reading
from server.admin import create_unit, create_user, token_for, unit_by_code
from server.db import make_engine, session_factory, transaction
from server.devices.service import create_enrollment_code
from server.schema import build_schema
from tests.device_gateway.media_samples import jpeg
from tests.system.conftest import fieldproof_command, free_port

T0 = datetime(2026, 5, 12, 1, 41, 7, tzinfo=UTC)
PLACE = (34.6197, 112.4540, 152.0)


@dataclass
class LiveServer:
    data: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    investigator: str = ""
    prosecutor: str = ""
    codes: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'server.sqlite3'}"

    def bootstrap(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        engine = make_engine(self.database)
        build_schema(engine)
        with transaction(session_factory(engine)) as session:
            create_unit(session, code="LY", name="洛阳市人民检察院")
            create_user(session, username="wang", unit_code="LY", role="investigator")
            create_user(session, username="zhao", unit_code="LY", role="prosecutor")
            self.investigator = token_for(session, username="wang")
            self.prosecutor = token_for(session, username="zhao")
            unit_id = unit_by_code(session, "LY").id
            self.codes = [create_enrollment_code(session, unit_id=unit_id) for _ in range(3)]
        engine.dispose()

    def start(self) -> LiveServer:
        command = [*fieldproof_command(), "server", "--data", str(self.data), "--port", str(self.port)]
        if self.database_url:
            command += ["--database-url", self.database_url]
        self.log = (self.data.parent / f"{self.data.name}.log").open("ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.log is not None:
            self.log.close()

    def _wait(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.data.parent / f"{self.data.name}.log").read_text(errors="replace")
                raise AssertionError(f"the server exited:\n{log[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def api(self, method: str, path: str, *, who: str = "prosecutor", **kwargs: Any) -> httpx.Response:
        token = self.prosecutor if who == "prosecutor" else self.investigator
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)

    def new_case(self) -> int:
        answer = self.api("POST", "/cases", json={"title": "洛河排污口非法排放", "domain": "water", "type": "civil"})
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def enroll_key_directly(self, data_dir: Path) -> None:
        """Enroll a gateway's key on this server without touching its spool (for a replaced server)."""
        key = gateway_key(data_dir)
        body = {"code": self.codes[-1], "kind": "gateway", "name": key.name, "public_key": key.public.to_text()}
        assert httpx.post(f"{self.url}/api/v1/devices/enroll", json=body).status_code == 201

    def readings_of(self, case_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self.api("GET", f"/cases/{case_id}/readings", params=params).json()
            found += page["items"]
            cursor = page["next"]
            if not cursor:
                return found


def start_server(folder: Path, database_url: str | None = None) -> LiveServer:
    server = LiveServer(folder, database_url)
    server.bootstrap()
    return server.start()


def fresh_log_same_key(old: LiveServer, folder: Path) -> LiveServer:
    """A server at the same address with the same signing key but a new, empty log (a replaced database)."""
    old.stop()
    folder.mkdir(parents=True)
    shutil.copytree(old.data / "keys", folder / "keys")
    replaced = LiveServer(folder, port=old.port)
    replaced.bootstrap()
    return replaced.start()


def import_photos(spool: Spool, folder: Path, count: int, *, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(first, first + count):
        taken = T0 + timedelta(minutes=n)
        jpeg(folder / f"IMG_{n:04d}.JPG", camera_time=taken.replace(tzinfo=None), gps=PLACE, gps_time=taken, seed=n)
    options = ImportOptions(visit="V1")
    report = import_media([folder], spool=spool, key=gateway_key(spool.root), options=options, track=None)
    assert all(r.status != "rejected" for r in report.results), report.results


def seal_sensor_batch(spool: Spool, frames: int = 30, device: str = "LYDUST0042") -> None:
    records = [
        FrameRecord(
            device=device,
            source="serial:///dev/ttyUSB0",
            protocol="hj212",
            raw=f"##frame {n} of {device}\r\n".encode(),
            received_at=T0 + timedelta(minutes=n, seconds=2),
            measured_at=T0 + timedelta(minutes=n),
            readings=(
                Reading("a34004", "Rtd", 50.0 + n, "N", None, "ug/m3"),
                Reading("a34002", "Rtd", 80.0 + n, "N", None, "ug/m3"),
            ),
            device_position=(PLACE[0], PLACE[1], PLACE[2]),
            visit="V1",
        )
        for n in range(frames)
    ]
    spool.store_frames(records)
    seal_pending_batches(spool, key=gateway_key(spool.root), now=T0 + timedelta(hours=1))


def fill_spool(data_dir: Path, photos: int = 3) -> None:
    with Spool(data_dir) as spool:
        import_photos(spool, data_dir.parent / "DCIM", photos)
        seal_sensor_batch(spool)
