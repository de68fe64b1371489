"""Crash test of the sync: the gateway is killed (SIGKILL) at many seeded random moments, the server restarted during
uploads, and after a last uninterrupted sync everything is on the server exactly once, whole and verified.

A real ``fieldproof server`` and a real ``fieldproof gateway sync`` process per attempt, talking through the
``tcp_proxy`` in the test process, which sees each request and kills the gateway at the moment the plan says: in the
middle of an upload's body, before a request reaches the server, after the server got it but before its answer
reaches the gateway, just after the answer arrived (so while the gateway checks and stores the receipt), or after a
random delay. The plan is drawn from a seeded ``random.Random`` (``SEED``), so a failure can be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from device_gateway.identity import gateway_key
from device_gateway.media.importer import ImportOptions, import_media
from device_gateway.spool import FrameRecord, Spool
from device_gateway.spool.batches import seal_pending_batches
from device_gateway.spool.queries import ItemStatus, spool_status
from evidence.checkpoint import SignedNote
from evidence.custody import CustodyEvent
from evidence.hashing import ContentStore
from evidence.keys import SigningKey
from evidence.merkle import leaf_hash, verify_consistency, verify_inclusion
from evidence.readings import Reading
from tests.device_gateway.media_samples import jpeg, mp4
from tests.device_gateway.sync_world import PLACE, T0, LiveServer, start_server
from tests.server.conftest import _plain, fresh_postgres_database, require_postgres
from tests.system.conftest import fieldproof_command
from tests.system.tcp_proxy import DROP, Hooks, Proxy, Request

SEED = 20260512
MiB = 1024 * 1024
# Recordings among the photos, so that kills land in the middle of their bytes (each is sent as one PATCH, 64 MiB
# chunks; a cut one resumes at the server's offset): ten, since several items are in flight and they go by quickly.
LARGE_SIZES = (12 * MiB, 9 * MiB, 7 * MiB, 5 * MiB, 5 * MiB, 4 * MiB, 3 * MiB, 3 * MiB, 2 * MiB, 2 * MiB)
PARALLEL = (1, 2, 4)  # items in flight, drawn per run: kills land in one-at-a-time and in concurrent syncs
PHOTOS = 210
SENSOR_BATCHES = 20
RUN_TIMEOUT_S = 120


# -- the world: a server, a gateway enrolled through the proxy, a spool of a few hundred items ------------------------


@dataclass
class World:
    server: LiveServer
    gateway: Path
    case_id: int
    proxy_url: str
    originals: dict[str, Path] = field(default_factory=dict)  # sha256 of each original media file -> the file


def fill_spool(data: Path, folder: Path, *, photos: int, large: tuple[int, ...], batches: int, seed: int) -> None:
    """Large videos among the first photos (so kills land in their uploads), the other photos, sensor batches."""
    noise = random.Random(seed)
    groups: list[tuple[int | None, range]] = [(size, range(8 * n, 8 * n + 8)) for n, size in enumerate(large)]
    groups.append((None, range(8 * len(large), photos)))
    with Spool(data) as spool:
        key = gateway_key(data)
        for number, (size, numbers) in enumerate(groups):
            source = folder / f"DCIM{number:02d}"
            source.mkdir(parents=True)
            if size is not None:
                created = (T0 + timedelta(hours=number)).replace(tzinfo=None)
                video = mp4(source / f"VID_{number:04d}.MP4", created=created)
                with video.open("ab") as out:  # a free box of random bytes: a large file, unique
                    payload = noise.randbytes(size - video.stat().st_size - 8)
                    out.write((8 + len(payload)).to_bytes(4, "big") + b"free" + payload)
                _import(spool, key, [video])
            pictures = []
            for n in numbers:
                taken = T0 + timedelta(minutes=n)
                naive = taken.replace(tzinfo=None)
                pictures.append(jpeg(source / f"IMG_{n:04d}.JPG", camera_time=naive, gps=PLACE, gps_time=taken, seed=n))
            _import(spool, key, pictures)
        for n in range(batches):  # sealed now: their items come after the media in the sync's order
            spool.store_frames(sensor_frames(device=f"LYDUST{n:04d}", count=10))
        seal_pending_batches(spool, key=key, now=datetime.now(UTC))


def sensor_frames(*, device: str, count: int) -> list[FrameRecord]:
    return [
        FrameRecord(
            device=device,
            source="serial:///dev/ttyUSB0",
            protocol="hj212",
            raw=f"##frame {n} of {device}\r\n".encode(),
            received_at=T0 + timedelta(minutes=n, seconds=2),
            measured_at=T0 + timedelta(minutes=n),
            readings=(Reading("a34004", "Rtd", 50.0 + n, "N", None, "ug/m3"),),
            device_position=PLACE,
            visit="V1",
        )
        for n in range(count)
    ]


def _import(spool: Spool, key: SigningKey, files: list[Path]) -> None:
    report = import_media(files, spool=spool, key=key, options=ImportOptions(visit="V1"), track=None)
    assert all(r.status == "imported" for r in report.results), report.results


def originals_of(folder: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            found[hashlib.sha256(path.read_bytes()).hexdigest()] = path
    return found


def make_world(tmp_path: Path, database_url: str | None, proxy: Proxy, *, photos: int, large: tuple[int, ...]) -> World:
    data = tmp_path / "gateway"
    fill_spool(data, tmp_path / "media", photos=photos, large=large, batches=SENSOR_BATCHES, seed=SEED)
    server = start_server(tmp_path / "server", database_url)
    proxy.upstream = ("127.0.0.1", server.port)
    try:
        enrolled = subprocess.run(
            [*gateway_command(), "enroll", "--server", proxy.url, "--code", server.codes[0], "--data", str(data)],
            capture_output=True,
            check=False,
        )
        assert enrolled.returncode == 0, enrolled.stderr.decode()
        return World(server, data, server.new_case(), proxy.url, originals_of(tmp_path / "media"))
    except BaseException:
        server.stop()
        raise


def gateway_command() -> list[str]:
    return [*fieldproof_command(), "gateway"]


def sync_command(world: World, *, case: bool = True, parallel: int = 4) -> list[str]:
    command = [*gateway_command(), "sync", "--server", world.proxy_url, "--data", str(world.gateway), "--json"]
    command += [f"--token={world.server.investigator}", "--parallel", str(parallel)]
    return [*command, "--case", str(world.case_id)] if case else command


def run_sync(world: World, log: Path) -> tuple[int, dict[str, object] | None]:
    with log.open("w") as out:
        finished = subprocess.run(
            sync_command(world), check=False, stdout=out, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S
        )
    text = log.read_text()
    try:
        return finished.returncode, json.loads(text[text.index("{") :])
    except ValueError:
        return finished.returncode, None


# -- the kill plan -----------------------------------------------------------------------------------------------------

UPLOAD_CREATE, PATCH, REGISTER, CONSISTENCY, READINGS = (
    ("POST", "/api/v1/uploads"),
    ("PATCH", "/api/v1/uploads/"),
    ("POST", "/api/v1/items"),
    ("GET", "/api/v1/log/consistency"),
    ("POST", "/api/v1/readings"),
)
PHASE_OF = {UPLOAD_CREATE: "uploading", PATCH: "uploading", REGISTER: "registering", CONSISTENCY: "receipts"}
PHASE_OF[READINGS] = "readings"
MOMENTS = ("before", "sent", "answer", "relayed")  # before the server sees it, ...after the gateway got the answer


@dataclass(frozen=True)
class Kill:
    """Kill the gateway at the ``nth`` matching request of a run (or the first PATCH of a large upload), at
    ``moment`` of it; or after ``delay_s``."""

    target: tuple[str, str] | None
    nth: int = 1
    moment: str = "before"
    cut: float = 0.5  # for a PATCH "cut": the fraction of the body forwarded before the kill
    delay_s: float = 0.0
    restart_server: bool = False  # restart the server instead (mid-PATCH), then kill at the next matching REGISTER

    @property
    def phase(self) -> str:
        return "timer" if self.target is None else PHASE_OF[self.target]


def kill_plan(rng: random.Random, *, item_kills: int, readings_kills: int) -> list[Kill]:
    """Item-phase kills in a seeded order (one of them a server restart mid-upload), then readings-phase kills."""
    plan: list[Kill] = []
    for n in range(item_kills):
        roll = rng.random()
        if roll < 0.4:
            plan.append(Kill(PATCH, nth=rng.randint(1, 4), moment="cut", cut=rng.uniform(0.05, 0.95)))
        elif roll < 0.5:
            plan.append(Kill(UPLOAD_CREATE, nth=rng.randint(1, 4), moment=rng.choice(MOMENTS)))
        elif roll < 0.65:
            plan.append(Kill(REGISTER, nth=rng.randint(1, 4), moment=rng.choice(MOMENTS)))
        elif roll < 0.85:
            plan.append(Kill(CONSISTENCY, nth=rng.randint(1, 4), moment=rng.choice(MOMENTS)))
        else:
            plan.append(Kill(None, delay_s=rng.uniform(0.8, 2.5)))
        if n == item_kills // 3:
            plan.append(Kill(PATCH, nth=1, moment="cut", cut=rng.uniform(0.2, 0.8), restart_server=True))
    plan += [Kill(READINGS, nth=rng.randint(1, 2), moment=rng.choice(MOMENTS)) for _ in range(readings_kills)]
    return plan


class Killer(Hooks):
    """Proxy hooks that carry out one ``Kill`` on the gateway process of the current run."""

    def __init__(self, server: LiveServer, rng: random.Random) -> None:
        self.server, self.rng = server, rng
        self.lock = threading.Lock()
        self.plan: Kill | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.seen = 0
        self.victim: Request | None = None
        self.killed = False
        self.restarts = 0
        self.big_patches = 0  # PATCHes of at least 1 MiB cut short
        self.large_left = True  # a recording's bytes remain to be sent in this run

    def arm(self, plan: Kill, process: subprocess.Popen[bytes], *, large_left: bool) -> None:
        with self.lock:
            self.plan, self.process, self.seen, self.victim, self.killed = plan, process, 0, None, False
            self.large_left = large_left

    def kill(self) -> None:
        with self.lock:
            if self.killed or self.process is None:
                return
            self.killed = True
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def _matches(self, request: Request, target: tuple[str, str]) -> bool:
        method, prefix = target
        path = request.path.split("?")[0]
        if target == UPLOAD_CREATE:
            return request.method == method and path == prefix
        return request.method == method and path.startswith(prefix)

    def request(self, request: Request) -> str | None:
        plan = self.plan
        if plan is None or plan.target is None or self.victim is not None or self.killed:
            return None
        if not self._matches(request, plan.target):
            return None
        if plan.target == PATCH and self.large_left and request.length < MiB:
            return None  # with items in flight, photos' PATCHes would often come first: cut the recordings' bytes
        self.seen += 1
        if self.seen < plan.nth and not (plan.target == PATCH and request.length >= MiB):
            return None  # a large upload's PATCH is cut at once: the kill lands in the middle of its bytes
        self.victim = request
        if plan.moment == "cut":
            request.cut_at = max(1, int(plan.cut * request.length))
        if plan.moment == "before":
            self.kill()
            return DROP
        return None

    def body(self, request: Request) -> str | None:
        plan = self.plan
        if plan is None or request is not self.victim or self.killed:
            return None
        if request.sent < (request.length if request.cut_at is None else request.cut_at):
            return None
        if plan.restart_server:  # the server goes down mid-upload; the gateway waits, then sees its connection drop
            request.close_server_side()
            self.server.stop()
            self.server.start()
            self.restarts += 1
            with self.lock:
                self.plan, self.seen, self.victim = Kill(REGISTER, nth=2, moment="answer"), 0, None
            return DROP
        if plan.moment == "cut":
            if request.length >= MiB:
                self.big_patches += 1
            self.kill()
            return DROP
        if plan.moment == "sent":
            self.kill()
        return None

    def answer(self, request: Request | None, size: int) -> str | None:
        plan = self.plan
        if plan is None or request is None or request is not self.victim or request.answered or self.killed:
            return None
        if plan.moment == "answer":
            self.kill()
            return DROP
        if plan.moment == "relayed":
            threading.Timer(self.rng.uniform(0.0, 0.03), self.kill).start()
        return None


def large_uploads_left(world: World) -> bool:
    """Whether a recording still has a MiB or more to send, by the server's count (it keeps what arrived of a cut
    PATCH): then a PATCH kill waits for one of that recording's PATCHes."""
    with Spool(world.gateway) as spool:
        rows = spool.connection.execute(
            "SELECT i.size, s.upload_url FROM items i LEFT JOIN sync_state s ON s.item_id = i.id"
            " WHERE i.size >= ? AND s.upload_id IS NULL AND i.id NOT IN (SELECT item_id FROM receipts)",
            (MiB,),
        ).fetchall()
    return any(size - _server_offset(world.server, url) >= MiB for size, url in rows)


def _server_offset(server: LiveServer, url: str | None) -> int:
    if url is None:
        return 0
    answer = server.api("HEAD", url.removeprefix("/api/v1"), who="investigator", headers={"Tus-Resumable": "1.0.0"})
    return int(answer.headers.get("Upload-Offset", 0)) if answer.status_code == 200 else 0


def gateway_phase(data: Path) -> str:
    """Where the spool says the sync is (for the record of where kills landed)."""
    with Spool(data) as spool:
        items = spool_status(spool.connection).items
    states = Counter(item.sync for item in items)
    return ", ".join(f"{count} {name}" for name, count in sorted(states.items()))


# -- the checks --------------------------------------------------------------------------------------------------------


def server_items(server: LiveServer, case_id: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = server.api("GET", f"/cases/{case_id}/items", params=params)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next"]
        if not cursor:
            return found


def check_everything_once_and_verified(world: World, *, at_least: int = 200) -> None:
    server, data = world.server, world.gateway
    with Spool(data) as spool:
        items = spool_status(spool.connection).items
        events = {
            item.item_id: len(
                spool.connection.execute("SELECT 1 FROM events WHERE item_id = ?", (item.item_id,)).fetchall()
            )
            for item in items
        }
        blob_hashes = {
            item.sha256: hashlib.sha256(spool.blobs.path_for(item.sha256).read_bytes()).hexdigest() for item in items
        }
        readings = spool.connection.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        receipts = spool.connection.execute(
            "SELECT item_id, log_index, received_event, inclusion, checkpoint FROM receipts"
        ).fetchall()
        seen = spool.connection.execute("SELECT size, root FROM checkpoints ORDER BY size").fetchall()
    assert len(items) >= at_least

    # every item on the server exactly once, with the bytes of its original
    held = server_items(server, world.case_id)
    ids = [str(entry["id"]) for entry in held]
    assert len(ids) == len(set(ids)), "an item is listed twice"
    assert set(ids) == {item.item_id for item in items}, "the server holds exactly the spool's items"
    by_id = {str(entry["id"]): entry for entry in held}
    media = [item for item in items if item.kind != "sensor-batch"]
    assert {item.sha256 for item in media} == set(world.originals), "every original file is an item"
    store = ContentStore(server.data / "blobs")
    for item in items:
        entry = by_id[item.item_id]
        assert (entry["sha256"], entry["size"]) == (item.sha256, item.size), item.name
        assert blob_hashes[item.sha256] == item.sha256
        stored = store.path_for(item.sha256)
        assert stored.is_file(), f"{item.name}: registered without its bytes"
        assert stored.stat().st_size == item.size
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == item.sha256, f"{item.name}: not the original bytes"

    # the log holds each custody event once: the gateway's events of every item and one received event each
    head = SignedNote.parse(server.api("GET", "/log/checkpoint").content).checkpoint
    assert head.size == sum(events.values()) + len(items), "the log holds an event twice (or misses one)"

    verified = server.api("POST", f"/cases/{world.case_id}/verify").json()
    assert verified["valid"], [i for i in verified["items"] if not i.get("valid")][:3] or verified["log_problems"]
    assert len(verified["items"]) == len(items)

    # the gateway's receipts: one per item, each proved in its checkpoint, every checkpoint in the last one
    assert sorted(r[0] for r in receipts) == sorted(item.item_id for item in items)
    last_size, last_root = seen[-1][0], base64.b64decode(seen[-1][1])
    assert last_size <= head.size
    for item_id, log_index, event, inclusion, note in receipts:
        checkpoint = SignedNote.parse(note.encode()).checkpoint
        proof = [base64.b64decode(node) for node in json.loads(inclusion)["proof"]]
        received = CustodyEvent.from_bytes(bytes(event))
        assert received.item_id == item_id
        verify_inclusion(leaf_hash(received.to_bytes()), log_index, checkpoint.size, proof, checkpoint.root)
    for size, root in seen[:-1]:
        answer = server.api("GET", "/log/consistency", params={"first": size, "second": last_size}).json()
        nodes = [base64.b64decode(n) for n in answer["proof"]]
        verify_consistency(size, last_size, nodes, base64.b64decode(root), last_root)

    # readings exactly once
    assert len(server.readings_of(world.case_id)) == readings

    # the gateway says every item is synced
    status = subprocess.run(
        [*gateway_command(), "status", "--data", str(data), "--json"], capture_output=True, check=True
    )
    assert {entry["sync"] for entry in json.loads(status.stdout)["items"]} == {"synced"}

    check_no_partial_upload_registered(server, items)


def check_no_partial_upload_registered(server: LiveServer, items: list[ItemStatus]) -> None:
    """Every complete upload holds what it declared; none failed; items only exist for complete uploads' bytes."""
    query = "SELECT status, sha256, received_sha256, length FROM uploads"
    if server.database_url is None:
        with sqlite3.connect(f"file:{server.data / 'server.sqlite3'}?mode=ro", uri=True) as db:
            uploads = db.execute(query).fetchall()
    else:
        with psycopg.connect(_plain(server.database_url)) as db:
            uploads = db.execute(query).fetchall()
    assert not [u for u in uploads if u[0] == "failed"], "an upload failed its hash check"
    complete = {sha for status, sha, received, _ in uploads if status == "complete" and received == sha}
    assert {item.sha256 for item in items} <= complete, "an item without a complete upload"


# -- the test ----------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    require_postgres("the PostgreSQL half of the crash test is skipped")
    with fresh_postgres_database("fp_crash") as url:
        yield url


def test_a_gateway_killed_at_random_moments_still_syncs_everything_exactly_once(
    tmp_path: Path, database_url: str | None
) -> None:
    rng = random.Random(SEED)
    with Proxy(0) as proxy:
        world = make_world(tmp_path, database_url, proxy, photos=PHOTOS, large=LARGE_SIZES)
        killer = Killer(world.server, rng)
        try:
            proxy.hooks = killer
            plan = kill_plan(rng, item_kills=30, readings_kills=6)
            landed: Counter[str] = Counter()
            record = []
            for n, kill in enumerate(plan):
                log = tmp_path / f"sync-{n:02d}.log"
                with log.open("w") as out:
                    command = sync_command(world, parallel=rng.choice(PARALLEL))
                    large_left = large_uploads_left(world)
                    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
                    killer.arm(kill, process, large_left=large_left)
                    timer = threading.Timer(kill.delay_s, killer.kill) if kill.target is None else None
                    if timer is not None:
                        timer.start()
                    process.wait(RUN_TIMEOUT_S)
                    if timer is not None:
                        timer.cancel()
                if killer.killed and process.returncode == -signal.SIGKILL:
                    landed[kill.phase] += 1
                record.append((kill, process.returncode, gateway_phase(world.gateway)))
            killer.plan = None
            summary = "\n".join(
                f"{k.phase:12} {k.moment:8} nth={k.nth} -> exit {rc}: {where}" for k, rc, where in record
            )
            assert sum(landed.values()) >= 30, f"only {sum(landed.values())} kills landed:\n{summary}"
            assert {"uploading", "registering", "receipts", "readings"} <= set(landed), f"{landed}\n{summary}"
            assert killer.restarts >= 1, "the server was restarted during an upload"
            assert killer.big_patches >= 3, f"kills in the middle of large uploads: {killer.big_patches}\n{summary}"

            status, answer = run_sync(world, tmp_path / "sync-final.log")
            assert status == 0, (tmp_path / "sync-final.log").read_text()[-3000:]
            assert answer is not None
            assert answer["ok"]
            check_everything_once_and_verified(world)
            again, repeated = run_sync(world, tmp_path / "sync-again.log")
            assert again == 0
            assert repeated is not None
            assert (repeated["synced"], repeated["bytes_sent"]) == (0, 0), "a sync after success sends nothing"
        finally:
            killer.plan = None
            if killer.process is not None and killer.process.poll() is None:  # a run that hung: a failure already
                killer.process.kill()
                killer.process.wait()
            world.server.stop()
