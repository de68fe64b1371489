"""Figure s: syncing a gateway's media to a local server, as a multiple of ``openssl dgst -sha256`` over the same bytes.

The gateway (set up once, untimed): a folder of body-camera media, ``PHOTO_SHARE`` of the bytes as real JPEGs of
about ``PHOTO_BYTES`` each (camera EXIF with GPS), the rest as MP4 recordings of at most ``VIDEO_BYTES`` each (a
minimal valid header before random bytes; both made by ``bench.media``), imported into a fresh gateway data folder
by ``import_media`` (one visit), as ``fieldproof gateway import-media --visit`` does. The spool's database is then
copied aside, so that every round starts from the same never-synced spool; its blobs are only read by a sync.

Per round, untimed: the spool's database restored; a fresh server data folder (SQLite) with a unit, an
investigator and an enrollment code (``server.admin``, as ``fieldproof admin`` does); ``fieldproof server`` started
on a free port of 127.0.0.1 and a case created through the API; ``fieldproof gateway enroll`` run (it pins the
server's log key); then memory recycled (unless told not to, see ``bench.files.recycle_memory``), everything
synced and every blob read into the page cache.

Ours: ``fieldproof gateway sync --server URL --data DIR --case ID --token T --json``, a child process, from its
start to its exit: four items in flight at a time, each uploaded by tus (64 MiB PATCHes, each fsynced by the server
before it is answered), the server's whole-file SHA-256 checked, the item registered with its custody events, its
receipt, inclusion proof and checkpoint consistency verified and stored. Checked afterwards: exit status 0, every
item ``synced``, every byte sent, and every blob in the server's store. The server is then stopped and its data
removed.

Baseline: one ``openssl dgst -sha256`` over every blob of the spool (the very bytes a sync sends), after the same
set-up (everything synced, the blobs warmed); each digest checked against the item's.

Floor (a second yardstick, reported beside the ratio): one durable copy of the same bytes on the server's disk,
``cat`` of every blob into ``dd of=FILE bs=8M conv=fsync``, after the same set-up. A server that acknowledges only
bytes it has fsynced cannot beat this; on a disk whose durable writes are slower than hashing, the floor itself
is several times openssl's time, and the goal below cannot be met there (docs/benchmarks.md says what was measured).

s: ratio = sync time / openssl time (lower is better; goal <= 3). Best of the rounds, median in brackets.

``python -m bench.sync [--size 256MiB] [--rounds 3]`` runs this figure alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.files import OUT, recycle_memory, warm, workspace
from bench.media import START_UTC, _mp4_header, _name, _photo_dimensions, _write_photo, _write_video
from bench.progress import note
from bench.report import Figure, Goal, MiB, render_text, seconds_text, size_text
from bench.timing import Samples, Trial, interleave
from bench.uploads import _free_port
from device_gateway.identity import gateway_key
from device_gateway.media.importer import ImportOptions, import_media
from device_gateway.spool import Spool
from device_gateway.spool.store import DATABASE

SYNC_GOAL = Goal("<=", 3.0)
DEFAULT_SIZE = 2 * 1024**3
QUICK_SIZE = 256 * MiB
DEFAULT_ROUNDS = 3
PHOTO_SHARE = 0.1  # of the media's bytes
PHOTO_BYTES = MiB  # about, per JPEG
VIDEO_BYTES = 400 * MiB  # at most, per recording
VISIT = "BENCH-1"
_REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Gateway:
    """A gateway data folder holding imported media, and a copy of its never-synced spool database."""

    data: Path
    pristine: Path
    blobs: dict[str, Path]  # by SHA-256
    size: int
    photos: int
    videos: int

    @property
    def text(self) -> str:
        """``2 GiB (5 MP4 + 205 JPEG)``."""
        return f"{size_text(self.size)} ({self.videos} MP4 + {self.photos} JPEG)"


def sync_figures(size: int, workdir: Path, rounds: int, *, recycle: bool = True) -> list[Figure]:
    """Figure s: ``fieldproof gateway sync`` of ``size`` bytes of media against ``openssl dgst`` over them."""
    with workspace(workdir) as work:
        gateway = make_gateway(work, size)
        prepare = _preparation(gateway, work / "scratch.bin" if recycle else None)
        trials = {
            "openssl dgst": _baseline_trial(prepare, gateway),
            "durable copy": _floor_trial(prepare, gateway, work / "copy.bin"),
            "gateway sync": _sync_trial(prepare, gateway, work),
        }
        samples = interleave(trials, rounds, "s. sync")
    return [_time_figure(samples["gateway sync"], samples["openssl dgst"], samples["durable copy"], gateway)]


def _time_figure(ours: Samples, baseline: Samples, floor: Samples, gateway: Gateway) -> Figure:
    """A time ratio: our time over the baseline's (lower is better), best of the rounds; the floor beside it."""
    ratio, median_ratio = ours.best / baseline.best, ours.median / baseline.median
    floor_ratio = floor.best / baseline.best
    return Figure(
        key="s.gateway_sync",
        name=f"s. gateway sync to a local server, {gateway.text}",
        measured=f"{seconds_text(ours.best, ours.median)} ({gateway.size / ours.best / 1e9:.2f} GB/s; "
        f"{ours.best / floor.best:.2f}x the durable copy)",
        baseline=f"openssl dgst -sha256: {seconds_text(baseline.best, baseline.median)}; durable copy (floor): "
        f"{seconds_text(floor.best, floor.median)} = {floor_ratio:.2f}x openssl",
        ratio=ratio,
        ratio_text=f"{ratio:.2f} (median {median_ratio:.2f})",
        goal=SYNC_GOAL,
        values={
            "bytes": gateway.size,
            "items": len(gateway.blobs),
            "photos": gateway.photos,
            "videos": gateway.videos,
            "seconds": list(ours.seconds),
            "baseline_seconds": list(baseline.seconds),
            "floor_seconds": list(floor.seconds),
            "floor_ratio": floor_ratio,
            "ratio_to_floor": ours.best / floor.best,
            "median_ratio": median_ratio,
        },
    )


# The gateway, set up once.


def make_gateway(work: Path, size: int) -> Gateway:
    """Media of ``size`` bytes in all, imported into ``work/gateway``; the media folder is removed afterwards."""
    media = work / "media"
    photos, videos = _write_media(media, size)
    data = work / "gateway"
    note(f"s. importing {photos} JPEGs and {videos} MP4s into {data}")
    with Spool(data) as spool:
        report = import_media(
            [media], spool=spool, key=gateway_key(data), options=ImportOptions(visit=VISIT), track=None
        )
        problems = [f"{r.path}: {r.status} {r.reason or ''}" for r in report.results if r.status != "imported"]
        if problems:
            raise RuntimeError(f"s. the import refused files ({problems[:3]}): the benchmark is broken")
        blobs = {r.sha256: spool.blobs.path_for(r.sha256) for r in report.results if r.sha256}
    shutil.rmtree(media)
    pristine = work / "pristine-spool"
    pristine.mkdir()
    for path in data.glob(f"{DATABASE}*"):
        shutil.copy2(path, pristine / path.name)
    os.sync()
    total = sum(path.stat().st_size for path in blobs.values())
    if len(blobs) != photos + videos:
        raise RuntimeError(f"s. {len(blobs)} distinct blobs for {photos + videos} files: the benchmark is broken")
    return Gateway(data, pristine, blobs, total, photos, videos)


def _write_media(folder: Path, size: int) -> tuple[int, int]:
    """JPEGs of about ``PHOTO_BYTES`` making ``PHOTO_SHARE`` of ``size``, then MP4s filling it to exactly ``size``."""
    folder.mkdir(parents=True)
    photos = max(4, round(size * PHOTO_SHARE / PHOTO_BYTES))
    dimensions = _photo_dimensions(PHOTO_BYTES)
    note(f"s. writing {size_text(size)} of media: {photos} JPEGs of {dimensions[0]}x{dimensions[1]}, then MP4s")
    sequence = 0
    for _ in range(photos):
        sequence += 1
        moment = START_UTC + timedelta(seconds=75 * sequence)
        _write_photo(folder / _name(sequence, moment, "JPG"), moment, dimensions)
    remaining = size - sum(path.stat().st_size for path in folder.iterdir())
    videos = max(1, math.ceil(remaining / VIDEO_BYTES))
    if remaining < videos * 2 * MiB:
        raise SystemExit(f"s: too few bytes for {photos} photos and a video (try 64MiB or more)")
    for number in range(videos):
        sequence += 1
        moment = START_UTC + timedelta(seconds=75 * sequence)
        share = remaining // videos + (remaining % videos if number == 0 else 0)  # exactly ``size`` in all
        _write_video(folder / _name(sequence, moment, "MP4"), moment, share - len(_mp4_header(moment, share)))
    os.sync()
    return photos, videos


# The timed runs.


def _preparation(gateway: Gateway, scratch: Path | None) -> Callable[[], None]:
    """As for figures a and h: recycle memory (unless told not to), sync, warm every blob."""

    def prepare() -> None:
        if scratch is not None:
            recycle_memory(scratch, gateway.size)
        os.sync()
        for path in gateway.blobs.values():
            warm(path)

    return prepare


def _baseline_trial(prepare: Callable[[], None], gateway: Gateway) -> Trial:
    """One ``openssl dgst -sha256`` listing every blob; each digest checked against the blob's name."""
    paths = list(gateway.blobs.values())

    def trial() -> float:
        prepare()
        start = time.perf_counter()
        output = subprocess.run(
            ["openssl", "dgst", "-sha256", *map(str, paths)], capture_output=True, text=True, check=True
        ).stdout
        elapsed = time.perf_counter() - start
        digests = [line.rsplit("= ", 1)[1].strip() for line in output.splitlines()]
        if digests != list(gateway.blobs):
            raise RuntimeError("s. openssl dgst printed other digests than the blobs': the benchmark is broken")
        return elapsed

    return trial


def _floor_trial(prepare: Callable[[], None], gateway: Gateway, copy: Path) -> Trial:
    """Every blob, read once and written durably once to ``copy`` on the work disk (removed afterwards)."""
    paths = [str(path) for path in gateway.blobs.values()]
    script = 'out="$1"; shift; cat "$@" | dd of="$out" bs=8M conv=fsync status=none'

    def trial() -> float:
        prepare()
        start = time.perf_counter()
        subprocess.run(["sh", "-c", script, "sh", str(copy), *paths], check=True)
        elapsed = time.perf_counter() - start
        written = copy.stat().st_size
        copy.unlink()
        if written != gateway.size:
            raise RuntimeError(
                f"s. the durable copy holds {written} bytes, not {gateway.size}: the benchmark is broken"
            )
        return elapsed

    return trial


def _sync_trial(prepare: Callable[[], None], gateway: Gateway, work: Path) -> Trial:
    """``fieldproof gateway sync`` to a fresh server, checked; the server stopped and its data removed."""

    def trial() -> float:
        _restore_spool(gateway)
        with _server(work / "server") as server:
            where = ["--server", server.url, "--data", str(gateway.data), "--token", server.token, "--json"]
            _cli("gateway", "enroll", "--code", server.code, *where)
            prepare()
            command = [*_fieldproof(), "gateway", "sync", "--case", str(server.case_id), *where]
            start = time.perf_counter()
            completed = subprocess.run(command, check=False, capture_output=True, text=True, cwd=_REPOSITORY)
            elapsed = time.perf_counter() - start
            _check_sync(completed, gateway, server.data)
        shutil.rmtree(work / "server")
        return elapsed

    return trial


def _check_sync(completed: subprocess.CompletedProcess[str], gateway: Gateway, server_data: Path) -> None:
    """Exit status 0, every item synced, every byte sent, every blob on the server."""
    if completed.returncode != 0:
        raise RuntimeError(
            f"s. sync exited {completed.returncode}: {completed.stderr[-2000:]}{completed.stdout[-2000:]}"
        )
    summary: dict[str, Any] = json.loads(completed.stdout)
    if not summary["ok"] or summary["synced"] != len(gateway.blobs) or summary["bytes_sent"] != gateway.size:
        raise RuntimeError(f"s. the sync did not send everything: {json.dumps(summary)[:2000]}")
    blobs = server_data / "blobs" / "sha256"
    missing = [digest for digest in gateway.blobs if not (blobs / digest[:2] / digest[2:4] / digest).is_file()]
    if missing:
        raise RuntimeError(f"s. the server's store lacks {len(missing)} blobs: the benchmark is broken")


def _restore_spool(gateway: Gateway) -> None:
    """The spool's database as it was after the import, before any sync."""
    for path in gateway.data.glob(f"{DATABASE}*"):
        path.unlink()
    for path in gateway.pristine.iterdir():
        shutil.copy2(path, gateway.data / path.name)


@dataclass(frozen=True)
class _Server:
    url: str
    data: Path
    token: str
    code: str
    case_id: int


@contextlib.contextmanager
def _server(data: Path) -> Iterator[_Server]:
    """``fieldproof server`` on a fresh SQLite database in ``data``, with a case to sync into."""
    token, prosecutor, code = _bootstrap(data)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(data.parent / "server.log", "ab") as log:
        child = subprocess.Popen(
            [*_fieldproof(), "server", "--data", str(data), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=_REPOSITORY,
        )
        try:
            _wait_until_up(url, child)
            case = httpx.post(
                f"{url}/api/v1/cases",
                json={"title": "bench sync", "domain": "water", "type": "civil"},
                headers={"Authorization": f"Bearer {prosecutor}"},
                timeout=60,
            )
            if case.status_code != 201:
                raise RuntimeError(f"s. creating the case answered {case.status_code}: {case.text}")
            yield _Server(url, data, token, code, int(case.json()["id"]))
        finally:
            child.terminate()
            child.wait(timeout=30)


def _bootstrap(data: Path) -> tuple[str, str, str]:
    """A unit, an investigator, a prosecutor (who opens cases) and an enrollment code, as ``fieldproof admin`` makes
    them: the two tokens and the code."""
    from server.admin import create_unit, create_user, token_for, unit_by_code
    from server.config import Settings
    from server.db import make_engine, session_factory, transaction
    from server.devices.service import create_enrollment_code
    from server.schema import build_schema

    data.mkdir(parents=True)
    engine = make_engine(Settings(data_dir=data).database)
    try:
        build_schema(engine)
        with transaction(session_factory(engine)) as session:
            create_unit(session, code="BENCH", name="bench")
            create_user(session, username="bench", unit_code="BENCH", role="investigator")
            create_user(session, username="bench-prosecutor", unit_code="BENCH", role="prosecutor")
            code = create_enrollment_code(session, unit_id=unit_by_code(session, "BENCH").id)
            return token_for(session, username="bench"), token_for(session, username="bench-prosecutor"), code
    finally:
        engine.dispose()


def _wait_until_up(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"s. the server exited with status {child.returncode} (see server.log)")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/api/v1/openapi.json", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("s. the server did not come up within 60 s")


def _fieldproof() -> list[str]:
    """The ``fieldproof`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("fieldproof")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fieldproof"]


def _cli(*arguments: str | Path) -> None:
    completed = subprocess.run(
        [*_fieldproof(), *map(str, arguments)], check=False, capture_output=True, text=True, cwd=_REPOSITORY
    )
    if completed.returncode != 0:
        raise RuntimeError(f"s. fieldproof {arguments[:2]} exited {completed.returncode}: {completed.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    from bench.machine import describe, load_average
    from bench.options import parse_size

    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE, help="bytes of media (default 2GiB)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds of each variant (default 3)")
    parser.add_argument("--no-recycle", action="store_true", help="do not recycle memory before each run")
    parser.add_argument("--workdir", type=Path, default=OUT, help=f"scratch space parent (default {OUT})")
    options = parser.parse_args(argv)
    load_at_start = load_average()
    figures = sync_figures(options.size, options.workdir, options.rounds, recycle=not options.no_recycle)
    machine = describe(options.workdir)
    machine["load average"] = f"{load_at_start} at start, {machine['load average']} at end"
    parameters = {"media bytes": options.size, "rounds": options.rounds}
    print(render_text(figures, machine, parameters))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
