"""An upload's life beyond the happy path: expiry and the sweep, the call item registration makes, recovery after
the server stopped between the last byte and the conclusion, hashing after a restart, and duplicate bytes.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth import Principal
from server.config import Settings
from server.db import transaction
from server.errors import ApiError
from server.storage import BlobStore
from server.uploads import partial as disk
from server.uploads.models import Upload
from server.uploads.service import CompletedUpload, completed_upload, sweep_expired
from server.users.models import User
from tests.server.conftest import World
from tests.server.test_uploads import Uploader, leftovers, metadata, upload_id


def principal(session: Session, username: str) -> Principal:
    user = session.scalars(select(User).where(User.username == username)).one()
    return Principal(user.id, user.username, user.role, user.unit_id, frozenset({user.unit_id}))


def age(client: TestClient, location: str, **delta: float) -> None:
    """Move the upload's expiry into the past, as if that much time had gone by without a PATCH."""
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        row = session.get(Upload, upload_id(location))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(**delta)


def status_of(client: TestClient, location: str) -> str:
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        row = session.get(Upload, upload_id(location))
        assert row is not None
        return row.status


def test_an_expired_upload_is_gone_and_swept(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    data = os.urandom(6000)
    stale, fresh = tus.start(data), tus.start(data)
    assert tus.patch(stale, 0, data[:3000]).status_code == 204
    age(client, stale, seconds=1)
    assert tus.head(stale).status_code == 410
    assert not disk.partial_path(settings, upload_id(stale)).exists()  # gone once found expired
    assert tus.patch(stale, 3000, data[3000:]).status_code == 410
    assert status_of(client, stale) == "receiving"  # until the sweep says otherwise
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        assert sweep_expired(session, settings) == 1
    assert not disk.partial_path(settings, upload_id(stale)).exists()
    assert disk.partial_path(settings, upload_id(fresh)).exists()
    assert (status_of(client, stale), status_of(client, fresh)) == ("expired", "receiving")
    assert not BlobStore(settings).has(hashlib.sha256(data).hexdigest())
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        owner = principal(session, "ly-investigator")
        with pytest.raises(ApiError) as refused:  # an expired upload never becomes evidence
            completed_upload(session, upload_id=upload_id(stale), principal=owner)
    assert refused.value.status == 409


def test_creating_an_upload_sweeps_expired_ones(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    stale = tus.start(b"abandoned on a hillside")
    assert tus.patch(stale, 0, b"abandoned").status_code == 204
    age(client, stale, hours=2)
    tus.start(b"a new one")
    assert not disk.partial_path(settings, upload_id(stale)).exists()
    assert status_of(client, stale) == "expired"
    assert tus.head(stale).status_code == 410


def test_an_expired_upload_being_written_keeps_its_bytes_until_the_write_ends(
    client: TestClient, world: World, settings: Settings
) -> None:
    tus = Uploader(client, world)
    location = tus.start(b"0123456789")
    age(client, location, seconds=1)
    path = disk.partial_path(settings, upload_id(location))
    with disk.locked(path):  # as a PATCH still streaming when the upload expired
        assert tus.head(location).status_code == 410
        with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
            assert sweep_expired(session, settings) == 0
        assert path.exists()
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        assert sweep_expired(session, settings) == 1
    assert not path.exists()


def test_a_patch_moves_the_expiry_on(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    location = tus.start(b"0123456789")
    age(client, location, seconds=-60)  # one minute left
    answer = tus.patch(location, 0, b"01234")
    assert answer.status_code == 204
    expires = datetime.strptime(answer.headers["Upload-Expires"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert expires > datetime.now(UTC) + timedelta(hours=23)


def test_a_partial_file_no_upload_owns_is_swept(client: TestClient, world: World, settings: Settings) -> None:
    orphan = disk.partial_path(settings, "f" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    young = disk.partial_path(settings, "e" * 32)
    young.write_bytes(b"its creation may not be committed yet")
    old = datetime.now().timestamp() - 3600
    os.utime(orphan, (old, old))
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        sweep_expired(session, settings)
    assert not orphan.exists()
    assert young.exists()


def test_completed_upload_is_what_item_registration_gets(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    data = os.urandom(70_000)
    location = tus.start(data, metadata(data, "DSJ-T9_012345_20261129093000_0001.mp4"))
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with transaction(sessions) as session:
        owner = principal(session, "ly-investigator")
        with pytest.raises(ApiError) as receiving:
            completed_upload(session, upload_id=upload_id(location), principal=owner)
    assert receiving.value.status == 409
    assert tus.patch(location, 0, data).status_code == 204
    with transaction(sessions) as session:
        owner, other = principal(session, "ly-investigator"), principal(session, "ly-evidence_officer")
        done = completed_upload(session, upload_id=upload_id(location), principal=owner)
        assert done == CompletedUpload(
            hashlib.sha256(data).hexdigest(), 70_000, "DSJ-T9_012345_20261129093000_0001.mp4"
        )
        for who, unknown in ((other, upload_id(location)), (owner, "0" * 32)):
            with pytest.raises(ApiError) as missing:
                completed_upload(session, upload_id=unknown, principal=who)
            assert missing.value.status == 404


def test_a_failed_or_terminated_upload_is_never_completed(client: TestClient, world: World) -> None:
    tus = Uploader(client, world)
    failed, terminated = tus.start(b"abc", metadata(b"abd")), tus.start(b"abc")
    assert tus.patch(failed, 0, b"abc").status_code == 460
    assert client.delete(terminated, headers=tus.headers).status_code == 204
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        owner = principal(session, "ly-investigator")
        for location in (failed, terminated):
            with pytest.raises(ApiError) as refused:
                completed_upload(session, upload_id=upload_id(location), principal=owner)
            assert refused.value.status == 409


def test_head_concludes_an_upload_whose_bytes_were_all_in_when_the_server_stopped(
    client: TestClient, world: World, settings: Settings
) -> None:
    tus = Uploader(client, world)
    data = os.urandom(40_000)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:10_000]).status_code == 204
    with open(disk.partial_path(settings, upload_id(location)), "ab") as partial:
        partial.write(data[10_000:])  # fsynced by the PATCH; then the server stopped before concluding
    disk.forget_running(upload_id(location))
    answer = tus.head(location)
    assert answer.status_code == 200
    assert answer.headers["Upload-Offset"] == "40000"
    assert answer.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()
    assert leftovers(settings) == [BlobStore(settings).path(hashlib.sha256(data).hexdigest())]


def test_after_a_restart_the_whole_file_is_hashed_again(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    data = os.urandom(30_000)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:20_000]).status_code == 204
    disk.forget_running(upload_id(location))  # a restart, or the next PATCH went to another worker
    answer = tus.patch(location, 20_000, data[20_000:])
    assert answer.headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()


def test_bytes_changed_on_disk_between_patches_fail_the_upload(
    client: TestClient, world: World, settings: Settings
) -> None:
    tus = Uploader(client, world)
    data = os.urandom(30_000)
    location = tus.start(data)
    assert tus.patch(location, 0, data[:20_000]).status_code == 204
    path = disk.partial_path(settings, upload_id(location))
    with open(path, "r+b") as partial:
        partial.write(b"\x00" * 16)  # same size: only a re-read can see it
    disk.forget_running(upload_id(location))
    assert tus.patch(location, 20_000, data[20_000:]).status_code == 460
    assert leftovers(settings) == []


def test_the_same_bytes_twice_keep_the_first_blob(client: TestClient, world: World, settings: Settings) -> None:
    tus = Uploader(client, world)
    data = os.urandom(25_000)
    first, second = tus.start(data), tus.start(data)
    assert tus.patch(first, 0, data).status_code == 204
    blob: Path = BlobStore(settings).path(hashlib.sha256(data).hexdigest())
    inode = blob.stat().st_ino
    assert tus.patch(second, 0, data).headers["Upload-Sha256"] == hashlib.sha256(data).hexdigest()
    assert blob.stat().st_ino == inode
    assert leftovers(settings) == [blob]
