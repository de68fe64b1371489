"""tus 1.0.0 uploads through the API: creation, appending, resuming, finishing into the blob store, refusing.

Every test runs on SQLite and on PostgreSQL (the ``client`` fixture). Upload bytes are random, so a test can only
pass when the server stored exactly what was sent.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from server.config import Settings
from server.db import transaction
from server.items.models import Item
from server.storage import BlobStore
from server.uploads import partial as disk
from server.uploads.models import Upload
from tests.server.conftest import World
from tests.server.evidence_helpers import create_case, enroll_gateway, gateway_events, registration

CAP = 8 * 1024 * 1024
OCTETS = "application/offset+octet-stream"
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "server", database_url=database_url, log_name="fieldproof.test/log", max_upload_bytes=CAP
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def metadata(data: bytes, filename: str | None = "site-3.jpg") -> str:
    pairs = [f"sha256 {b64(hashlib.sha256(data).hexdigest())}"]
    return ",".join(pairs + ([f"filename {b64(filename)}"] if filename else []))


class Uploader:
    """A tus client for one user, over the test client."""

    def __init__(self, client: TestClient, world: World, who: str = "LY/investigator") -> None:
        self.client = client
        self.headers = {**TUS, **world.headers(who)}

    def create(self, length: int, meta: str) -> httpx.Response:
        return self.client.post(
            "/api/v1/uploads", headers={**self.headers, "Upload-Length": str(length), "Upload-Metadata": meta}
        )

    def start(self, data: bytes, meta: str | None = None) -> str:
        answer = self.create(len(data), meta or metadata(data))
        assert answer.status_code == 201, answer.text
        return answer.headers["Location"]

    def patch(self, location: str, offset: int, body: bytes | Iterator[bytes], **extra: str) -> httpx.Response:
        headers = {**self.headers, "Upload-Offset": str(offset), "Content-Type": OCTETS, **extra}
        return self.client.patch(location, headers=headers, content=body)

    def head(self, location: str) -> httpx.Response:
        return self.client.head(location, headers=self.headers)

    def offset(self, location: str) -> int:
        answer = self.head(location)
        assert answer.status_code == 200, answer.status_code
        return int(answer.headers["Upload-Offset"])


def upload_id(location: str) -> str:
    return location.rsplit("/", 1)[1]


def leftovers(settings: Settings) -> list[Path]:
    """Partial files and blobs on disk."""
    folders = [settings.upload_dir, settings.blob_dir / "sha256"]
    return sorted(path for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file())


def test_options_tells_what_the_server_supports(client: TestClient) -> None:
    answer = client.options("/api/v1/uploads")
    assert answer.status_code == 204
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {"creation", "checksum", "termination", "expiration"}
    assert answer.headers["Tus-Max-Size"] == str(CAP)
    assert "sha256" in answer.headers["Tus-Checksum-Algorithm"].split(",")


def test_an_upload_in_several_patches_becomes_a_blob(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    data = os.urandom(3 * 1024 * 1024 + 17)
    created = tus.create(len(data), metadata(data))
    assert created.status_code == 201
    assert created.headers["Tus-Resumable"] == "1.0.0"
    location = created.headers["Location"]
    assert location == f"/api/v1/uploads/{upload_id(location)}"
    assert created.headers["Upload-Expires"].endswith(" GMT")
    assert tus.offset(location) == 0
    cuts = [0, 1_000_000, 2_500_000, len(data)]
    for start, end in itertools.pairwise(cuts):
        answer = tus.patch(location, start, data[start:end])
        assert answer.status_code == 204, answer.text
        assert answer.headers["Upload-Offset"] == str(end)
        assert tus.offset(location) == end
    sha256 = hashlib.sha256(data).hexdigest()
    assert answer.headers["Upload-Sha256"] == sha256
    store = BlobStore(settings)
    assert store.path(sha256).read_bytes() == data
    assert leftovers(settings) == [store.path(sha256)]  # the partial file is gone
    final = tus.head(location)
    assert final.headers["Upload-Offset"] == final.headers["Upload-Length"] == str(len(data))
    assert final.headers["Upload-Sha256"] == sha256
    assert final.headers["Cache-Control"] == "no-store"
    assert final.headers["Upload-Metadata"] == metadata(data)


@pytest.mark.parametrize(
    "sizes",
    [
        [7 * 1024 * 1024 + 3],  # one chunk spanning two batches
        [1, 4 * 1024 * 1024 - 1, 3 * 1024 * 1024, 5, 1024 * 1024 - 5],  # chunks ending on and across batch edges
    ],
    ids=["one-large-chunk", "odd-chunks"],
)
def test_bodies_in_chunks_of_any_size_are_stored_exactly(
    client: TestClient, world: World, settings: Settings, sizes: list[int]
) -> None:
    tus = Uploader(client, world)
    data = os.urandom(sum(sizes))
    location = tus.start(data)
    ends = list(itertools.accumulate(sizes))
    chunks = (data[end - size : end] for size, end in zip(sizes, ends, strict=True))
    answer = tus.patch(location, 0, chunks)
    assert answer.status_code == 204, answer.text
    assert answer.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()
    assert BlobStore(settings).path(hashlib.sha256(data).hexdigest()).read_bytes() == data


def test_a_patch_at_the_wrong_offset_is_409(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    data = os.urandom(10_000)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:4000]).status_code == 204
    for wrong in (0, 3999, 4001):
        answer = tus.patch(location, wrong, data[wrong : wrong + 100])
        assert answer.status_code == 409
        assert answer.headers["Upload-Offset"] == "4000"
        assert answer.json()["error"]["code"] == "offset_mismatch"
    assert tus.offset(location) == 4000


def test_a_request_checksum_mismatch_is_460_and_keeps_none_of_it(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    data = os.urandom(20_000)
    location = tus.start(data)
    good = base64.b64encode(hashlib.sha1(data[:8000]).digest()).decode()  # a transfer checksum, not an integrity value
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    answer = tus.patch(location, 0, data[:8000], **{"Upload-Checksum": f"sha256 {wrong}"})
    assert answer.status_code == 460
    assert answer.json()["error"]["code"] == "checksum_mismatch"
    assert tus.offset(location) == 0
    assert tus.patch(location, 0, data[:8000], **{"Upload-Checksum": f"sha1 {good}"}).status_code == 204
    rest = base64.b64encode(hashlib.sha256(data[8000:]).digest()).decode()
    done = tus.patch(location, 8000, data[8000:], **{"Upload-Checksum": f"sha256 {rest}"})
    assert done.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()


def test_an_unsupported_checksum_algorithm_is_400(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    location = tus.start(b"abc")
    assert tus.patch(location, 0, b"abc", **{"Upload-Checksum": f"crc32 {b64('xxxx')}"}).status_code == 400
    assert tus.patch(location, 0, b"abc", **{"Upload-Checksum": "sha256 not-base64!"}).status_code == 400
    assert tus.offset(location) == 0


def test_bytes_that_do_not_match_the_declared_hash_are_refused_and_leave_nothing(
    client: TestClient, world: World, settings: Settings
) -> None:
    tus = Uploader(client, world)
    declared, sent = os.urandom(50_000), os.urandom(50_000)
    location = tus.start(sent, metadata(declared))
    assert tus.patch(location, 0, sent[:30_000]).status_code == 204
    answer = tus.patch(location, 30_000, sent[30_000:])
    assert answer.status_code == 460
    error = answer.json()["error"]
    assert error["code"] == "sha256_mismatch"
    assert error["details"] == {
        "declared": hashlib.sha256(declared).hexdigest(),
        "received": hashlib.sha256(sent).hexdigest(),
    }
    assert leftovers(settings) == []  # no partial file, no blob under either hash
    assert tus.head(location).status_code == 410
    assert tus.patch(location, 50_000, b"").status_code == 410
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        row = session.get(Upload, upload_id(location))
        assert row is not None
        assert (row.status, row.received_sha256) == ("failed", None)
        assert row.failure is not None
        assert hashlib.sha256(sent).hexdigest() in row.failure


def test_a_refused_upload_never_becomes_an_item(client: TestClient, world: World, settings: Settings) -> None:
    case = create_case(client, world)
    gateway = enroll_gateway(client)
    tus = Uploader(client, world, "LY-YC/investigator")
    declared, sent = os.urandom(20_000), os.urandom(20_000)
    location = tus.start(sent, metadata(declared))
    assert tus.patch(location, 0, sent).status_code == 460
    for data in (declared, sent):  # neither the hash it claimed nor the bytes that came make an item
        item_id = str(uuid.uuid4())
        body = registration(case["id"], item_id, upload_id(location), gateway_events(gateway, item_id, data))
        answer = client.post("/api/v1/items", json=body, headers=tus.headers)
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["details"]["upload_status"] == "failed"
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).select_from(Item)) == 0
    assert leftovers(settings) == []


def test_an_upload_over_the_cap_is_413_at_creation(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    answer = tus.create(CAP + 1, metadata(b"x"))
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert str(CAP) in answer.json()["error"]["message"]
    assert tus.create(CAP, metadata(b"x")).status_code == 201
    assert [path.name for path in leftovers(settings)] != []  # only the accepted one has a partial file
    assert len(leftovers(settings)) == 1


def test_a_patch_past_upload_length_is_413_and_appends_nothing(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    data = os.urandom(5000)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:1000]).status_code == 204
    assert tus.patch(location, 1000, data[1000:] + b"!").status_code == 413  # known from Content-Length
    streamed = tus.patch(location, 1000, iter([data[1000:3000], data[3000:], b"beyond"]))  # chunked: found midway
    assert streamed.status_code == 413
    assert tus.offset(location) == 1000
    assert tus.patch(location, 1000, data[1000:]).headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()


def test_a_full_disk_is_507_and_keeps_none_of_the_request(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tus = Uploader(client, world)
    data = os.urandom(6 * 1024 * 1024)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:1000]).status_code == 204
    write_at, batches = disk.write_at, []

    def fill_up(fd: int, batch: memoryview, offset: int) -> None:
        batches.append(len(batch))
        if len(batches) > 1:  # the first batch of the request is written, the second finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        write_at(fd, batch, offset)

    monkeypatch.setattr(disk, "write_at", fill_up)
    answer = tus.patch(location, 1000, data[1000:])
    assert answer.status_code == 507
    assert answer.json()["error"]["code"] == "no_space"
    assert len(batches) == 2
    monkeypatch.undo()
    assert tus.offset(location) == 1000  # the request's first batch was cut off again
    done = tus.patch(location, 1000, data[1000:])
    assert done.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()  # the running hash was rewound too


def test_termination_removes_the_partial_bytes(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    data = os.urandom(4000)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:2000]).status_code == 204
    answer = client.delete(location, headers=tus.headers)
    assert answer.status_code == 204
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert leftovers(settings) == []
    assert tus.head(location).status_code == 410
    assert tus.patch(location, 2000, data[2000:]).status_code == 410
    assert client.delete(location, headers=tus.headers).status_code == 410


def test_another_users_upload_is_not_found(client: TestClient, world: World) -> None:
    owner, other = Uploader(client, world), Uploader(client, world, "LY/evidence_officer")
    data = os.urandom(1000)
    location = owner.start(data)
    assert other.head(location).status_code == 404
    assert other.patch(location, 0, data).status_code == 404
    assert client.delete(location, headers=other.headers).status_code == 404
    assert owner.offset(location) == 0
    assert owner.head("/api/v1/uploads/" + "0" * 32).status_code == 404


def test_tus_resumable_is_required(client: TestClient, world: World) -> None:
    auth = world.headers("LY/investigator")
    location = Uploader(client, world).start(b"abc")
    answers = [
        client.post("/api/v1/uploads", headers={**auth, "Upload-Length": "3", "Upload-Metadata": metadata(b"abc")}),
        client.head(location, headers=auth),
        client.patch(location, headers={**auth, "Upload-Offset": "0", "Content-Type": OCTETS}, content=b"abc"),
        client.delete(location, headers=auth),
        client.head(location, headers={**auth, "Tus-Resumable": "0.2.2"}),
    ]
    for answer in answers:
        assert answer.status_code == 412
        assert answer.headers["Tus-Version"] == "1.0.0"
        assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert Uploader(client, world).offset(location) == 0


def test_only_uploaders_may_upload(client: TestClient, world: World) -> None:
    assert Uploader(client, world, "LY/prosecutor").create(3, metadata(b"abc")).status_code == 403
    answer = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "3", "Upload-Metadata": metadata(b"a")})
    assert answer.status_code == 401
    assert answer.headers["Tus-Resumable"] == "1.0.0"


@pytest.mark.parametrize(
    "meta",
    [
        f"filename {b64('a.jpg')}",  # no sha256
        f"sha256 {b64('A' * 64)}",  # upper case
        f"sha256 {b64('ab' * 31)}",  # too short
        "sha256 ###",  # not base64
        f"sha256 {b64('0' * 64)},sha256 {b64('0' * 64)}",  # twice
        f"sha256 {b64('0' * 64)},filename /w==",  # not UTF-8 (0xff)
    ],
)
def test_malformed_metadata_is_400(client: TestClient, world: World, meta: str) -> None:
    answer = Uploader(client, world).create(3, meta)
    assert answer.status_code == 400
    assert "Upload-Metadata" in answer.json()["error"]["message"]


def test_a_patch_must_be_an_offset_octet_stream(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    location = tus.start(b"abc")
    answer = client.patch(
        location, headers={**tus.headers, "Upload-Offset": "0", "Content-Type": "text/plain"}, content=b"abc"
    )
    assert answer.status_code == 415
    assert tus.offset(location) == 0


def test_an_empty_upload(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    location = tus.start(b"")
    answer = tus.patch(location, 0, b"")
    assert answer.status_code == 204
    assert answer.headers["Upload-Sha256"] == hashlib.sha256(b"").hexdigest()
    assert BlobStore(settings).has(hashlib.sha256(b"").hexdigest())


def test_a_patch_while_another_writes_is_423(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    location = tus.start(b"abcdef")
    path = disk.partial_path(settings, upload_id(location))
    with disk.locked(path):  # as a PATCH in progress holds it
        answer = tus.patch(location, 0, b"abc")
        assert answer.status_code == 423
        assert answer.headers["Retry-After"]
        assert client.delete(location, headers=tus.headers).status_code == 423
    assert tus.patch(location, 0, b"abc").status_code == 204


def test_the_openapi_document_describes_the_tus_operations(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"options", "post"} <= set(paths["/api/v1/uploads"])
    item = paths["/api/v1/uploads/{upload_id}"]
    assert {"head", "patch", "delete"} <= set(item)
    assert OCTETS in item["patch"]["requestBody"]["content"]
    assert {"409", "413", "460"} <= set(item["patch"]["responses"])
    assert "Upload-Sha256" in item["patch"]["responses"]["204"]["headers"]
    names = {parameter["name"] for parameter in item["patch"]["parameters"]}
    assert {"Upload-Offset", "Upload-Checksum", "Tus-Resumable"} <= names
