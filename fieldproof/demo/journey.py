"""The demo's journey, step by step: a real server, simulated devices, the gateway, sync, the court package.

Each step is a method of ``Journey``; ``run_steps`` runs them in order and stops at the first that fails, keeping
its name and reason. Everything a person wants to see at the end is gathered into ``Journey.summary`` (the JSON
that ``fieldproof demo --json`` prints).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.config import load_settings
from device_gateway.identity import gateway_key
from device_gateway.listen import ListenResult, ListenSession, track_from
from device_gateway.media.importer import ImportOptions, ImportReport, import_media
from device_gateway.runners import MqttRunner
from device_gateway.simulators.monitor import GpsSimulator, MonitorSimulator
from device_gateway.simulators.mqtt_monitor import MqttMonitorSimulator
from device_gateway.simulators.readings import ReadingWalk, units_parameter
from device_gateway.sources import parse_source
from device_gateway.spool import Spool
from evidence import bagit
from evidence.errors import FieldproofError
from evidence.keys import PublicKey
from evidence.metadata.filenames import default_patterns
from evidence.verify import VerificationReport, verify_package
from fieldproof.demo.accounts import PASSWORD, USERS
from fieldproof.demo.broker import Broker, free_port, mqtt_broker
from fieldproof.demo.media import SITE, write_camera_card
from server.admin import create_unit, create_user, unit_by_code
from server.db import make_engine, session_factory, transaction
from server.devices.service import create_enrollment_code
from server.schema import build_schema

CITY, CITY_NAME = "LY", "洛阳市人民检察院"
COUNTY, COUNTY_NAME = "LY-YC", "伊川县人民检察院"
MONITOR, GNSS, MQTT_DEVICE = "LYDUST0042", "GNSS1", "LYMQTT0001"
CAMERA = "Hikvision DSJ000123"
MONITOR_FRAMES, MQTT_MESSAGES = 12, 8
VISIT = "V1"
HALF_SIDE_DEG = 0.003  # the site's geofence: a square about 600 m across around the discharge point


class StepFailed(Exception):
    """A step did not do what it must; the message says what happened."""


@dataclass
class Step:
    name: str
    title: str
    ok: bool | None = None
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Journey:
    workdir: Path
    database_url: str | None = None
    progress: Callable[[str], None] = lambda _text: None
    steps: list[Step] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    enrollment_code: str = ""
    case_id: int = 0
    case_number: str = ""
    site_id: int = 0
    listen_result: ListenResult | None = None
    import_report: ImportReport | None = None
    broker: Broker | None = None
    package: Path | None = None
    tamper_report: VerificationReport | None = None
    exit_stack: ExitStack = field(default_factory=ExitStack)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_data(self) -> Path:
        return self.workdir / "server"

    @property
    def gateway_data(self) -> Path:
        return self.workdir / "gateway"

    # --- the steps, in order -------------------------------------------------------------------------------

    def plan(self) -> list[tuple[str, str, Callable[[], str]]]:
        return [
            ("server", "启动服务器 start the server", self.start_server),
            ("case", "办案系统建案 a case system files the case", self.file_case),
            ("listen", "网关接收监测设备 the gateway listens to the monitors", self.listen),
            ("import", "导入执法记录仪 import the body camera", self.import_camera),
            ("enroll", "网关登记 enroll the gateway", self.enroll),
            ("sync", "同步 sync", self.sync),
            ("server-verify", "服务器校验案件 verify the case on the server", self.verify_on_server),
            ("export", "导出法庭证据包 export the court package", self.export_package),
            ("offline-verify", "离线校验 verify the package offline", self.verify_offline),
            ("tamper", "篡改检测 tamper with a copy", self.tamper),
        ]

    def run_steps(self) -> bool:
        for name, title, action in self.plan():
            step = Step(name, title)
            self.steps.append(step)
            self.progress(f"▶ {title} …")
            started = time.monotonic()
            try:
                step.detail = action()
                step.ok = True
            except (StepFailed, FieldproofError) as exc:
                step.ok = False
                step.detail = str(exc) or type(exc).__name__
            except Exception as exc:  # a demo step reports why it failed, never a traceback
                step.ok = False
                step.detail = f"{type(exc).__name__}: {exc}"[:1500]
            step.seconds = time.monotonic() - started
            mark = "✓" if step.ok else "✗"
            self.progress(f"  {mark} {title} ({step.seconds:.1f} s){': ' + step.detail if step.detail else ''}")
            if not step.ok:
                return False
        return True

    def close(self) -> None:
        self.exit_stack.close()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(10)

    # --- 1. server -----------------------------------------------------------------------------------------

    def start_server(self) -> str:
        self.server_data.mkdir(parents=True, exist_ok=True)
        self._bootstrap()
        command = [*_fieldproof(), "server", "--data", str(self.server_data), "--port", str(self.port)]
        if self.database_url:
            command += ["--database-url", self.database_url]
        log = self.exit_stack.enter_context((self.workdir / "server.log").open("ab"))
        self.server = subprocess.Popen(  # noqa: S603 - our own command line
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                tail = (self.workdir / "server.log").read_text(errors="replace")[-1500:]
                raise StepFailed(f"the server exited with status {self.server.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}/api/v1/openapi.json", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise StepFailed(f"the server did not answer on {self.url} within 60 s (see {self.workdir / 'server.log'})")

    def _bootstrap(self) -> None:
        """Units, users and an enrollment code, written to the database as ``fieldproof admin`` does."""
        database = self.database_url or f"sqlite:///{self.server_data / 'server.sqlite3'}"
        engine = make_engine(database)
        try:
            build_schema(engine)
            with transaction(session_factory(engine)) as session:
                create_unit(session, code=CITY, name=CITY_NAME)
                create_unit(session, code=COUNTY, name=COUNTY_NAME, parent_code=CITY)
                for username, role, display in USERS:
                    create_user(
                        session,
                        username=username,
                        unit_code=COUNTY,
                        role=role,
                        password=PASSWORD,
                        display_name=display,
                    )
                self.enrollment_code = create_enrollment_code(session, unit_id=unit_by_code(session, COUNTY).id)
        finally:
            engine.dispose()

    # --- 2. case, site, visit through the API ----------------------------------------------------------------

    def file_case(self) -> str:
        for username, _role, _display in USERS:
            answer = self._call("POST", "/auth/token", json={"username": username, "password": PASSWORD})
            self.tokens[username] = answer["access_token"]
        case = self._call(
            "POST",
            "/cases",
            who="zhao",
            json={
                "title": "洛河排污口非法排放 Illegal discharge into the Luo river",
                "domain": "water",
                "type": "civil",
                "description": "伊川县洛河排污口 — demo case",
            },
        )
        self.case_id, self.case_number = int(case["id"]), str(case["number"])
        lat, lon, _alt = SITE
        ring = [
            [lon - HALF_SIDE_DEG, lat - HALF_SIDE_DEG],
            [lon + HALF_SIDE_DEG, lat - HALF_SIDE_DEG],
            [lon + HALF_SIDE_DEG, lat + HALF_SIDE_DEG],
            [lon - HALF_SIDE_DEG, lat + HALF_SIDE_DEG],
            [lon - HALF_SIDE_DEG, lat - HALF_SIDE_DEG],
        ]
        site = self._call(
            "POST",
            f"/cases/{self.case_id}/sites",
            who="zhao",
            json={
                "name": "洛河排污口 Luo river outfall",
                "address": "河南省洛阳市伊川县",
                "geofence": {"type": "Polygon", "coordinates": [ring]},
            },
        )
        self.site_id = int(site["id"])
        visit = self._call(
            "POST",
            f"/cases/{self.case_id}/visits",
            who="wang",
            json={
                "site": self.site_id,
                "started_at": "2026-05-12T09:00:00+08:00",
                "ended_at": "2026-05-12T11:00:00+08:00",
                "investigators": ["wang", "li"],
                "devices": [MONITOR, MQTT_DEVICE, "DSJ000123"],
                "note": "现场勘查 site inspection",
            },
        )
        self.summary["case"] = {
            "id": self.case_id,
            "number": self.case_number,
            "site": self.site_id,
            "site_area_m2": round(float(site["area_m2"])),
            "visit": int(visit["id"]),
        }
        area = f"{site['area_m2']:.0f} m²"
        return f"案件 case {self.case_number}, 现场 site {self.site_id} ({area}), 勘查 visit {visit['id']}"

    # --- 3. simulated devices into the gateway -----------------------------------------------------------

    def listen(self) -> str:
        self.gateway_data.mkdir(parents=True, exist_ok=True)
        self.broker = self.exit_stack.enter_context(mqtt_broker(self.workdir / "mosquitto"))
        monitor = MonitorSimulator(
            interval=0.1, count=MONITOR_FRAMES, exceed=True, seed=5, time_step=timedelta(minutes=1), mn=MONITOR
        )
        gps = GpsSimulator(interval=0.2)
        topic_base = f"fieldproof/demo/{uuid.uuid4().hex[:8]}"
        sources = [
            f"serial://{monitor.pty.path}?baud=9600&protocol=hj212&units={units_parameter('dust')}",
            f"serial://{gps.pty.path}?baud=4800&protocol=nmea&device={GNSS}",
            f"mqtt://{self.broker.host}:{self.broker.port}/{topic_base}/#?client_id=demo-{uuid.uuid4().hex[:8]}",
        ]
        session = ListenSession(
            [parse_source(s) for s in sources], settings=load_settings(self.gateway_data), visit=VISIT
        )
        started, stop, gps_stop = threading.Event(), threading.Event(), threading.Event()
        outcome: dict[str, ListenResult] = {}
        listener = threading.Thread(target=lambda: outcome.update(result=session.run(stop, started=started.set)))
        gps_thread = threading.Thread(target=gps.run, args=(gps_stop,), daemon=True)
        try:
            listener.start()
            if not started.wait(20):
                raise StepFailed("the gateway's listen session did not start within 20 s")
            gps_thread.start()
            for runner in session.runners:
                if isinstance(runner, MqttRunner) and not runner.source.connected.wait(20):
                    raise StepFailed(f"the gateway did not connect to the MQTT broker ({self.broker.kind}) in 20 s")
            time.sleep(1.0)  # GPS fixes before the monitors speak, and the broker has the subscription
            mqtt_thread = threading.Thread(target=self._publish_mqtt, args=(f"{topic_base}/readings",), daemon=True)
            mqtt_thread.start()
            monitor.run(threading.Event())
            mqtt_thread.join(30)
            for device, expected in ((MQTT_DEVICE, MQTT_MESSAGES), (MONITOR, MONITOR_FRAMES)):
                _wait_for_frames(self.gateway_data, device, expected, timeout=10)
        finally:
            stop.set()
            listener.join(60)
            gps_stop.set()
            gps_thread.join(5)
            monitor.pty.close()
            gps.pty.close()
        result = outcome.get("result")
        if result is None:
            raise StepFailed("the listen session ended without a result")
        if result.failure:
            raise StepFailed(f"the listen session failed: {result.failure}")
        self.listen_result = result
        sealed = {batch.device: batch for batch in result.sealed}
        for device in (MONITOR, MQTT_DEVICE, GNSS):
            if device not in sealed:
                raise StepFailed(f"nothing was sealed for {device} (sealed: {', '.join(sealed) or 'nothing'})")
        self.summary["broker"] = self.broker.kind
        parts = [f"{b.device}: {b.frames} frames, {b.readings} readings" for b in result.sealed]
        return f"MQTT broker: {self.broker.kind}; sealed " + "; ".join(parts)

    def _publish_mqtt(self, topic: str) -> None:
        """The MQTT monitor: ``MqttMonitorSimulator``'s payloads, from a client id of this run's own (several demos
        or tests may share one broker, and a broker disconnects a client whose id another one takes)."""
        assert self.broker is not None
        simulator = MqttMonitorSimulator(topic=topic, device=MQTT_DEVICE)
        walk = ReadingWalk("dust", False, seed=3)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-monitor-{uuid.uuid4().hex[:12]}")
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        try:
            for seq in range(MQTT_MESSAGES):
                client.publish(topic, simulator.payload(seq, walk), qos=1).wait_for_publish(timeout=10)
                time.sleep(0.1)
        finally:
            client.disconnect()
            client.loop_stop()

    # --- 4. body camera ----------------------------------------------------------------------------------

    def import_camera(self) -> str:
        card = write_camera_card(self.workdir / "camera-card")
        settings = load_settings(self.gateway_data)
        options = ImportOptions(
            device=CAMERA,  # the video's metadata names no camera; the card is this body camera's
            visit=VISIT,
            zone=settings.defaults.timezone,
            patterns=[*settings.media.filename_patterns, *default_patterns()],
            drift_threshold_s=settings.media.drift_threshold_s,
        )
        with Spool(self.gateway_data) as spool:
            report = import_media(
                [card], spool=spool, key=gateway_key(self.gateway_data), options=options, track=track_from(spool)
            )
        rejected = [r for r in report.results if r.status == "rejected"]
        if rejected:
            raise StepFailed("; ".join(f"{Path(r.path).name}: {r.reason}" for r in rejected))
        self.import_report = report
        offsets = ", ".join(f"{d} {o.offset_s:+.0f} s" for d, o in report.offsets.items())
        return f"{len(report.results)} files from {card}; camera clock {offsets or 'unknown'}"

    # --- 5, 6. enroll and sync (the gateway's own commands) ----------------------------------------------

    def enroll(self) -> str:
        answer = self._gateway(
            "enroll", "--server", self.url, "--code", self.enrollment_code, "--token", self.tokens["wang"]
        )
        return f"device {answer.get('device_id', answer.get('id', '?'))}"

    def sync(self) -> str:
        answer = self._gateway(
            "sync", "--server", self.url, "--case", str(self.case_id), "--token", self.tokens["wang"]
        )
        if not answer.get("ok"):
            failed = [i for i in answer.get("items", []) if i.get("status") == "failed"]
            raise StepFailed(f"sync not complete: {json.dumps(failed or answer, ensure_ascii=False)[:800]}")
        readings = answer.get("readings", {})
        self.summary["sync"] = {"synced": answer["synced"], "bytes_sent": answer["bytes_sent"], "readings": readings}
        return f"{answer['synced']} items, {answer['bytes_sent']:,} bytes, readings {readings}"

    # --- 7. verify on the server -------------------------------------------------------------------------

    def verify_on_server(self) -> str:
        answer = self._call("POST", f"/cases/{self.case_id}/verify", who="chen")
        bad = [i["item_id"] for i in answer["items"] if not i["valid"]]
        if not answer["valid"] or bad:
            raise StepFailed(f"the server says the case does not verify: items {bad}, log {answer['log_problems']}")
        self._gather()
        self.summary["server_verified"] = True
        return f"{len(answer['items'])} items valid, log consistent"

    def _gather(self) -> None:
        items = self._pages(f"/cases/{self.case_id}/items")
        readings = self._pages(f"/cases/{self.case_id}/readings")
        alerts = self._pages(f"/cases/{self.case_id}/alerts")
        device_of_reading = {r["id"]: r["device"] for r in readings}
        report = self.import_report
        camera_of = {r.item_id: r.device for r in report.results} if report else {}
        devices: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"items": 0, "readings": 0, "exceedances": 0, "kinds": Counter()}
        )
        for item in items:
            device = camera_of.get(item["id"]) or _device_of_item(item, readings)
            devices[device]["items"] += 1
            devices[device]["kinds"][item["kind"]] += 1
        for reading in readings:
            devices[reading["device"]]["readings"] += 1
        for alert in alerts:
            devices[device_of_reading.get(alert["reading_id"], "?")]["exceedances"] += 1
        self.summary["devices"] = {
            name: {**facts, "kinds": dict(facts["kinds"])} for name, facts in sorted(devices.items())
        }
        self.summary["totals"] = {"items": len(items), "readings": len(readings), "exceedances": len(alerts)}
        self.summary["exceedances"] = [
            {
                "device": device_of_reading.get(a["reading_id"], "?"),
                "code": a["code"],
                "value": a["value"],
                "ratio": a["ratio"],
                "standard": a["standard"],
                "message_zh": a["message_zh"],
                "message_en": a["message_en"],
            }
            for a in alerts
        ]
        self.summary["flags"] = self._flags(items)

    def _flags(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        flags: list[dict[str, Any]] = []
        for item in items:
            fence = item["geofence"]
            if fence["status"] == "outside":
                flags.append(
                    {
                        "kind": "outside-geofence",
                        "item": item["id"],
                        "name": item["name"],
                        "distance_m": round(fence["distance_m"] or 0),
                        "zh": f"{item['name']} 拍摄于现场范围外 {fence['distance_m'] or 0:.0f} 米",
                        "en": f"{item['name']} was taken {fence['distance_m'] or 0:.0f} m outside the site",
                    }
                )
        report = self.import_report
        if report is not None:
            for device, offset in report.offsets.items():
                if offset.drifting:  # the camera's clock is further from GNSS time than the threshold (60 s)
                    flags.append(
                        {
                            "kind": "clock-drift",
                            "device": device,
                            "offset_s": round(offset.offset_s, 1),
                            "zh": f"{device} 相机时钟与卫星时间相差 {offset.offset_s:+.0f} 秒（已按卫星时间校正）",
                            "en": f"{device} camera clock is {offset.offset_s:+.0f} s off GNSS time (corrected)",
                        }
                    )
            for device, gaps in report.gaps.items():
                missing = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps)
                flags.append(
                    {
                        "kind": "sequence-gap",
                        "device": device,
                        "missing": missing,
                        "zh": f"{device} 文件序号缺失 {missing}（被删除或未提交？）",
                        "en": f"{device} file numbers missing: {missing} (deleted or withheld?)",
                    }
                )
        result = self.listen_result
        if result is not None:
            for source, counts in result.counts.items():
                if counts.invalid:
                    flags.append(
                        {
                            "kind": "invalid-frames",
                            "source": source,
                            "count": counts.invalid,
                            "zh": f"{counts.last_device or source} 有 {counts.invalid} 帧校验失败（原样保留）",
                            "en": f"{counts.last_device or source}: {counts.invalid} frames failed their check "
                            "(kept as received)",
                        }
                    )
        return flags

    # --- 8, 9, 10. the court package -------------------------------------------------------------------------

    def export_package(self) -> str:
        target = self.workdir / f"court-package-{self.case_number}.zip"
        with httpx.stream(
            "GET",
            f"{self.url}/api/v1/cases/{self.case_id}/package",
            headers={"Authorization": f"Bearer {self.tokens['zhao']}"},
            timeout=120,
        ) as answer:
            if answer.status_code != 200:
                answer.read()
                raise StepFailed(f"GET /cases/{self.case_id}/package answered {answer.status_code}: {answer.text}")
            with target.open("wb") as out:
                for chunk in answer.iter_bytes():
                    out.write(chunk)
        self.package = target
        shutil.copy(self._server_public_key_path(), self.workdir / "server.key.pub")
        unzipped = self.workdir / "unzipped"
        with zipfile.ZipFile(target) as archive:
            archive.extractall(unzipped)
        bag = _bag_root(unzipped).rename(self.workdir / "package")
        if unzipped.exists():
            unzipped.rmdir()
        self.summary["package"] = {
            "path": str(target),
            "size": target.stat().st_size,
            "unpacked": str(bag),
            "report_html": str(bag / "report.html"),
            "report_pdf": str(bag / "report.pdf"),
        }
        return f"{target} ({target.stat().st_size:,} bytes)"

    def _server_public_key_path(self) -> Path:
        candidates = sorted((self.server_data / "keys").glob("*.pub"))
        if not candidates:
            raise StepFailed(f"no server public key under {self.server_data / 'keys'}")
        return candidates[0]

    def _trusted(self) -> list[PublicKey]:
        return [PublicKey.from_text(self._server_public_key_path().read_text())]

    def verify_offline(self) -> str:
        assert self.package is not None
        command = [*_fieldproof(), "verify", "--trust", str(self.workdir / "server.key.pub"), "--json"]
        command.append(str(self.package))
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)  # noqa: S603 - our own
        if done.returncode != 0:
            out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
            raise StepFailed(f"fieldproof verify exited {done.returncode}: {out[-800:]}{err[-400:]}")
        report = verify_package(self.package, trusted=self._trusted())
        self.summary["package"].update(
            {"verified": report.exit_status == 0, "items": report.items, "events": report.events}
        )
        self.summary["package"]["verify_command"] = (
            f"fieldproof verify --trust {self.workdir / 'server.key.pub'} {self.package}"
        )
        return f"fieldproof verify: exit 0, {report.items} items, {report.events} custody events"

    def tamper(self) -> str:
        assert self.package is not None
        bag = self.workdir / "tampered-copy"
        shutil.copytree(self.workdir / "package", bag)
        photos = [p for p in bag.glob("data/**/*") if p.suffix.lower() == ".jpg"]
        photo = min(photos, key=lambda p: p.name, default=None)
        if photo is None:
            raise StepFailed("the package holds no photo to tamper with")
        data = bytearray(photo.read_bytes())
        data[len(data) // 2] ^= 0x01
        photo.write_bytes(bytes(data))
        bagit.regenerate(bag)
        report: VerificationReport = verify_package(bag, trusted=self._trusted())
        self.tamper_report = report
        caught_by = [c.step.name for c in report.checks if not c.ok]
        if report.exit_status != 1:
            raise StepFailed(f"the forged copy was not caught (exit {report.exit_status})")
        self.summary["tamper"] = {
            "file": str(photo.relative_to(bag)),
            "caught": True,
            "caught_by": caught_by,
            "exit_status": report.exit_status,
        }
        return f"one byte of {photo.name} flipped and every BagIt manifest rewritten: caught by {', '.join(caught_by)}"

    # --- helpers -------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, who: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        answer = httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)
        if answer.status_code >= 300:
            raise StepFailed(f"{method} {path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json()

    def _pages(self, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", path, who="chen", params=params)
            found += page["items"]
            cursor = page["next"]
            if not cursor:
                return found

    def _gateway(self, *args: str) -> dict[str, Any]:
        command = [*_fieldproof(), "gateway", args[0], "--data", str(self.gateway_data), "--json", *args[1:]]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)  # noqa: S603 - our own
        out = done.stdout.decode(errors="replace")
        if done.returncode != 0:
            raise StepFailed(
                f"fieldproof gateway {args[0]} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-600:]}{out[-600:]}"
            )
        try:
            answer: dict[str, Any] = json.loads(out)
        except json.JSONDecodeError as exc:
            raise StepFailed(f"fieldproof gateway {args[0]} printed no JSON: {out[:300]}") from exc
        return answer


def _bag_root(folder: Path) -> Path:
    """The bag inside an unpacked package: the folder itself, or its only subfolder."""
    if (folder / "bagit.txt").exists():
        return folder
    inner = [p for p in folder.iterdir() if (p / "bagit.txt").exists()]
    if len(inner) != 1:
        raise StepFailed(f"{folder} holds no single BagIt bag")
    return inner[0]


def _fieldproof() -> list[str]:
    script = Path(sys.executable).with_name("fieldproof")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fieldproof"]


def _wait_for_frames(data: Path, device: str, expected: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _frames(data, device) < expected:
        if time.monotonic() > deadline:
            held = _frames(data, device)
            raise StepFailed(f"{device} sent {expected} frames; the gateway holds {held} after {timeout:.0f} s")
        time.sleep(0.05)


def _frames(data: Path, device: str) -> int:
    path = data / "spool.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM frames WHERE device = ?", (device,)).fetchone()[0])


def _device_of_item(item: dict[str, Any], readings: list[dict[str, Any]]) -> str:
    for reading in readings:
        if reading["item_id"] == item["id"]:
            return str(reading["device"])
    name = str(item["name"])
    for device in (MONITOR, MQTT_DEVICE, GNSS):
        if device in name:
            return device
    return name
