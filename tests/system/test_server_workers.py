"""Four server workers against PostgreSQL, registering items concurrently, produce one consistent log.

A real `fieldproof server --workers 4` process on a fresh PostgreSQL database; eight client threads each upload
(tus) and register items at the same time. Afterwards every log index from 0 to the size is taken exactly once,
every item's received event is included under the final checkpoint, and every checkpoint seen along the way is
consistent with the final one.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from evidence.checkpoint import SignedNote, verify_note
from evidence.custody import new_event
from evidence.keys import SigningKey, generate_key, load_public_key
from evidence.merkle import verify_consistency, verify_inclusion
from server.admin import create_unit, create_user, token_for, unit_by_code
from server.db import make_engine, session_factory, transaction
from server.devices.service import create_enrollment_code
from server.schema import build_schema
from tests.server.conftest import fresh_postgres_database, require_postgres
from tests.system.conftest import fieldproof_command, free_port

CLIENTS, ITEMS_EACH = 8, 5


@pytest.fixture
def postgres_database() -> Iterator[str]:
    require_postgres("the 4-worker test needs it")
    with fresh_postgres_database("fp_workers") as url:
        yield url


def _world(url: str) -> tuple[str, str]:
    """A unit, an investigator's token and an enrollment code, written as `fieldproof admin` would."""
    engine = make_engine(url)
    build_schema(engine)
    with transaction(session_factory(engine)) as session:
        create_unit(session, code="LY", name="洛阳市人民检察院")
        create_user(session, username="investigator", unit_code="LY", role="investigator")
        create_user(session, username="prosecutor", unit_code="LY", role="prosecutor")
        token = token_for(session, username="investigator")
        prosecutor = token_for(session, username="prosecutor")
        code = create_enrollment_code(session, unit_id=unit_by_code(session, "LY").id)
    engine.dispose()
    return token + " " + prosecutor, code


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited:\n{log.read_text(errors='replace')[-4000:]}"
        try:
            if httpx.get(f"{url}/api/v1/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def test_four_workers_register_concurrently_into_one_consistent_log(tmp_path: Path, postgres_database: str) -> None:
    tokens, code = _world(postgres_database)
    investigator, prosecutor = tokens.split()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    log_file = log.open("wb")
    server = subprocess.Popen(
        [
            *fieldproof_command(),
            "server",
            "--data",
            str(tmp_path / "data"),
            "--database-url",
            postgres_database,
            "--port",
            str(port),
            "--workers",
            "4",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(base, server, log)
        gateway = generate_key("concurrency-gateway")
        enrolled = httpx.post(
            f"{base}/api/v1/devices/enroll",
            json={"code": code, "kind": "gateway", "name": "gw", "public_key": gateway.public.to_text()},
        )
        assert enrolled.status_code == 201, enrolled.text
        case = httpx.post(
            f"{base}/api/v1/cases",
            json={"title": "并发", "domain": "air", "type": "civil"},
            headers={"Authorization": f"Bearer {prosecutor}"},
        ).json()
        checkpoints: list[str] = []
        work = [(client, n) for client in range(CLIENTS) for n in range(ITEMS_EACH)]
        with ThreadPoolExecutor(CLIENTS) as pool:
            indices = list(
                pool.map(
                    lambda job: _upload_and_register(
                        base, investigator, case["id"], gateway, job=job, checkpoints=checkpoints
                    ),
                    work,
                )
            )
        _check_log(base, investigator, indices, checkpoints, tmp_path)
    finally:
        server.terminate()
        server.wait(30)
        log_file.close()


def _upload_and_register(
    base: str, token: str, case_id: int, gateway: SigningKey, *, job: tuple[int, int], checkpoints: list[str]
) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    data = f"evidence from client {job[0]} item {job[1]} ".encode() * 200
    sha = hashlib.sha256(data).hexdigest()
    tus = {**headers, "Tus-Resumable": "1.0.0"}
    metadata = f"sha256 {base64.b64encode(sha.encode()).decode()}"
    with httpx.Client(base_url=base, timeout=60) as http:
        location = http.post(
            "/api/v1/uploads", headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": metadata}
        ).headers["location"]
        patched = http.patch(
            location,
            content=data,
            headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
        assert patched.status_code == 204, patched.text
        item_id = str(uuid.uuid4())
        acquired = new_event(
            key=gateway,
            item_id=item_id,
            item_sha256=sha,
            action="acquired",
            at=datetime.now(UTC),
            previous=None,
            device="camera",
        )
        body = {
            "item_id": item_id,
            "case_id": case_id,
            "upload_id": location.rstrip("/").rsplit("/", 1)[1],
            "kind": "document",
            "media_type": "text/plain",
            "name": "note.txt",
            "events": [acquired.to_json()],
        }
        answer = http.post("/api/v1/items", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        checkpoints.append(answer.json()["receipt"]["checkpoint"])
        return int(answer.json()["receipt"]["log_index"])


def _check_log(base: str, token: str, indices: list[int], checkpoints: list[str], tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    final = SignedNote.parse(httpx.get(f"{base}/api/v1/log/checkpoint", headers=headers).content)
    server_key = load_public_key(tmp_path / "data" / "keys" / "server.key.pub")
    verify_note(final, [server_key])
    head = final.checkpoint
    assert head.size == CLIENTS * ITEMS_EACH * 2, "one acquired and one received event per item, no more, no less"
    assert len(set(indices)) == len(indices)
    for index in indices:
        proof = httpx.get(
            f"{base}/api/v1/log/inclusion", params={"index": index, "size": head.size}, headers=headers
        ).json()
        verify_inclusion(
            base64.b64decode(proof["leaf_hash"]),
            index,
            head.size,
            [base64.b64decode(node) for node in proof["proof"]],
            head.root,
        )
    for text in set(checkpoints):
        earlier = SignedNote.parse(text.encode())
        verify_note(earlier, [server_key])
        first = earlier.checkpoint
        if first.size == head.size:
            assert first.root == head.root
            continue
        answer = httpx.get(
            f"{base}/api/v1/log/consistency", params={"first": first.size, "second": head.size}, headers=headers
        ).json()
        verify_consistency(first.size, head.size, [base64.b64decode(n) for n in answer["proof"]], first.root, head.root)
