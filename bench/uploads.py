"""Figure i: tus upload throughput, as a ratio to a bare handler that only reads the same bytes on the same server.

One real server (uvicorn, one worker, in a child process) runs the fieldproof app on SQLite in the run's work
directory, plus, for the benchmark only, ``PATCH /bench/bare``: a route that reads ``request.stream()`` to the end
and counts the bytes, behind the same middleware. One httpx client sends the same file to both, in the same
requests: ``PATCH_BYTES`` per request, each body streamed from the file in 1 MiB reads with its Content-Length.

Ours (tus): ``POST /api/v1/uploads`` with the file's size and SHA-256, then the PATCHes, each fsynced before it is
answered, the last one re-hashing and adopting the file into the blob store; the answer's ``Upload-Sha256`` is
checked. Bare: the same PATCHes to the bare route, each answer's byte count checked. Untimed between runs: the
blob removed, everything synced, memory recycled (see ``bench.files.recycle_memory``), the source warmed.
i1: ratio = bare time / tus time (1 means uploading costs nothing over reading the bytes; goal >= 0.8).

i2 (information) shows how much of that the one thing no verifying receiver can skip costs on this machine:
``PATCH /bench/hashed`` reads the same bodies like the bare route and feeds every chunk to a SHA-256 as it comes,
on the event loop (no file, no database). ratio = bare time / that time.

``python -m bench.uploads [--size 64MiB] [--rounds 3]`` runs this figure alone.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import httpx

from bench.files import OUT, make_file, recycle_memory, settle, workspace
from bench.hashing import _speed_figure
from bench.report import Figure, Goal, MiB, render_text, size_text
from bench.timing import Trial, interleave
from evidence.hashing import sha256_file

UPLOAD_GOAL = Goal(">=", 0.8)
PATCH_BYTES = 64 * MiB
READ_BYTES = MiB
_REPOSITORY = Path(__file__).resolve().parent.parent

_SERVER = """
import hashlib
import sys
from pathlib import Path

import uvicorn
from fastapi import Request, Response

from server.app import create_app
from server.config import Settings


async def bare(request: Request) -> Response:
    count = 0
    async for chunk in request.stream():
        count += len(chunk)
    return Response(status_code=204, headers={"Bare-Count": str(count)})


async def hashed(request: Request) -> Response:
    count, hasher = 0, hashlib.sha256()
    async for chunk in request.stream():
        count += len(chunk)
        hasher.update(chunk)
    return Response(status_code=204, headers={"Bare-Count": str(count), "Bare-Sha256": hasher.hexdigest()})


app = create_app(Settings(data_dir=Path(sys.argv[1]), log_name="fieldproof.bench/log"))
app.add_api_route("/bench/bare", bare, methods=["PATCH"], include_in_schema=False)
app.add_api_route("/bench/hashed", hashed, methods=["PATCH"], include_in_schema=False)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="off", ws="none")
"""


def upload_figures(size: int, workdir: Path, rounds: int, *, recycle: bool = True) -> list[Figure]:
    """Figures i1 and i2: upload ``size`` bytes by tus, to the bare route and to the hashing route, ``rounds``
    interleaved rounds each."""
    with workspace(workdir) as work:
        source = work / f"upload-{size_text(size).replace(' ', '')}.bin"
        make_file(source, size)
        expected = sha256_file(source).sha256
        prepare = _preparation(source, work / "scratch.bin" if recycle else None)
        with _server(work / "server") as (base, token), httpx.Client(base_url=base, timeout=600) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            trials = {
                "bare read": _bare_trial(client, prepare, source, "/bench/bare"),
                "tus upload": _tus_trial(client, prepare, source, expected, work / "server" / "blobs"),
                "read + SHA-256": _bare_trial(client, prepare, source, "/bench/hashed"),
            }
            samples = interleave(trials, rounds, "i. upload")
    label = f"bare read, {size_text(PATCH_BYTES)} PATCHes"
    upload = _speed_figure(
        "i.tus_upload",
        "i1. tus upload vs bare read",
        samples["tus upload"],
        baseline=samples["bare read"],
        label=label,
        size=size,
        goal=UPLOAD_GOAL,
    )
    hashed = _speed_figure(
        "i.read_sha256",
        "i2. read + SHA-256 on the loop vs bare read",
        samples["read + SHA-256"],
        baseline=samples["bare read"],
        label=label,
        size=size,
        goal=UPLOAD_GOAL,
    )
    return [upload, replace(hashed, goal=None)]


@contextlib.contextmanager
def _server(data_dir: Path) -> Iterator[tuple[str, str]]:
    """A uvicorn child serving the app on a fresh SQLite database; yields its base URL and an uploader's token."""
    token = _prepare_database(data_dir)
    port = _free_port()
    child = subprocess.Popen([sys.executable, "-c", _SERVER, str(data_dir), str(port)], cwd=_REPOSITORY)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, child)
        yield base, token
    finally:
        child.terminate()
        child.wait(timeout=30)


def _prepare_database(data_dir: Path) -> str:
    from server.admin import create_unit, create_user, token_for
    from server.config import Settings
    from server.db import make_engine, session_factory, transaction
    from server.schema import build_schema

    data_dir.mkdir(parents=True)
    engine = make_engine(Settings(data_dir=data_dir).database)
    try:
        build_schema(engine)
        with transaction(session_factory(engine)) as session:
            create_unit(session, code="BENCH", name="bench")
            create_user(session, username="bench", unit_code="BENCH", role="investigator")
            return token_for(session, username="bench")
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(base: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the benchmark server exited with status {child.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.options(f"{base}/api/v1/uploads").status_code == 204:
                return
        time.sleep(0.1)
    raise RuntimeError("the benchmark server did not come up within 60 s")


def _preparation(source: Path, scratch: Path | None) -> Callable[[], None]:
    size = source.stat().st_size

    def prepare() -> None:
        if scratch is not None:
            recycle_memory(scratch, size)
        settle(source)

    return prepare


def _pieces(size: int) -> list[tuple[int, int]]:
    """(offset, length) of each PATCH."""
    return [(offset, min(PATCH_BYTES, size - offset)) for offset in range(0, size, PATCH_BYTES)] or [(0, 0)]


def _body(stream: BinaryIO, count: int) -> Iterator[bytes]:
    while count:
        piece = stream.read(min(READ_BYTES, count))
        if not piece:
            raise RuntimeError("the source file ended early")
        count -= len(piece)
        yield piece


def _bare_trial(client: httpx.Client, prepare: Callable[[], None], source: Path, route: str) -> Trial:
    """The PATCHes sent to a benchmark-only route, each answer's byte count (and SHA-256, if given) checked."""

    def trial() -> float:
        prepare()
        start = time.perf_counter()
        with open(source, "rb") as stream:
            for _offset, count in _pieces(source.stat().st_size):
                answer = client.patch(route, content=_body(stream, count), headers={"Content-Length": str(count)})
                if answer.status_code != 204 or answer.headers["Bare-Count"] != str(count):
                    raise RuntimeError(f"{route} answered {answer.status_code} {answer.headers}")
        elapsed = time.perf_counter() - start
        if "Bare-Sha256" in answer.headers:
            _check_last_piece(source, answer.headers["Bare-Sha256"])
        return elapsed

    return trial


def _check_last_piece(source: Path, digest: str) -> None:
    """Untimed: the hashing route hashed exactly the last PATCH's bytes."""
    offset, count = _pieces(source.stat().st_size)[-1]
    with open(source, "rb") as stream:
        stream.seek(offset)
        if hashlib.sha256(stream.read(count)).hexdigest() != digest:
            raise RuntimeError("the hashing route got other bytes than were sent: the benchmark is broken")


def _tus_trial(client: httpx.Client, prepare: Callable[[], None], source: Path, expected: str, blobs: Path) -> Trial:
    def trial() -> float:
        prepare()
        start = time.perf_counter()
        digest = _tus_upload(client, source, expected)
        elapsed = time.perf_counter() - start
        if digest != expected:
            raise RuntimeError(f"tus upload stored {digest}, expected {expected}: the benchmark is broken")
        (blobs / "sha256" / expected[:2] / expected[2:4] / expected).unlink()
        return elapsed

    return trial


def _tus_upload(client: httpx.Client, source: Path, sha256: str) -> str:
    """Create the upload, PATCH the file piece by piece; the final answer's Upload-Sha256."""
    size = source.stat().st_size
    tus = {"Tus-Resumable": "1.0.0"}
    metadata = f"sha256 {base64.b64encode(sha256.encode()).decode()},filename {base64.b64encode(b'bench.bin').decode()}"
    created = client.post("/api/v1/uploads", headers={**tus, "Upload-Length": str(size), "Upload-Metadata": metadata})
    if created.status_code != 201:
        raise RuntimeError(f"creation answered {created.status_code}: {created.text}")
    answer = created
    with open(source, "rb") as stream:
        for offset, count in _pieces(size):
            headers = {
                **tus,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(count),
            }
            answer = client.patch(created.headers["Location"], content=_body(stream, count), headers=headers)
            if answer.status_code != 204:
                raise RuntimeError(f"PATCH at {offset} answered {answer.status_code}: {answer.text}")
    return answer.headers.get("Upload-Sha256", "")


def main(argv: list[str] | None = None) -> int:
    from bench.machine import describe
    from bench.options import parse_size

    parser = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=parse_size, default=1024**3, help="bytes to upload (default 1GiB)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each variant (default 5)")
    parser.add_argument("--no-recycle", action="store_true", help="do not recycle memory before each run")
    parser.add_argument("--workdir", type=Path, default=OUT, help=f"scratch space parent (default {OUT})")
    options = parser.parse_args(argv)
    figures = upload_figures(options.size, options.workdir, options.rounds, recycle=not options.no_recycle)
    parameters = {"file bytes": options.size, "rounds": options.rounds, "PATCH bytes": PATCH_BYTES}
    print(render_text(figures, describe(options.workdir), parameters))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
