"""The server's blob store: content-addressed, read-only blobs, adoption without copying, never an overwrite."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from evidence.errors import StoreError
from evidence.hashing import Digest, sha256_bytes
from server.config import Settings
from server.storage import BlobStore, MissingBlobError


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(Settings(data_dir=tmp_path / "server"))


def finished_upload(folder: Path, data: bytes, name: str = "upload.part") -> tuple[Path, Digest]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path, sha256_bytes(data)


def test_put_bytes_stores_under_the_hash_read_only(store: BlobStore) -> None:
    digest = store.put_bytes(b"reading frames")
    assert digest == Digest(hashlib.sha256(b"reading frames").hexdigest(), 14)
    assert store.has(digest.sha256)
    path = store.path(digest.sha256)
    assert path == store.root / "sha256" / digest.sha256[:2] / digest.sha256[2:4] / digest.sha256
    assert path.stat().st_mode & 0o777 == 0o444
    with store.open(digest.sha256) as stream:
        assert stream.read() == b"reading frames"


def test_put_file_copies_and_leaves_the_source(store: BlobStore, tmp_path: Path) -> None:
    source, expected = finished_upload(tmp_path / "in", os.urandom(300_000))
    digest = store.put_file(source)
    assert digest == expected
    assert source.exists()
    assert os.stat(source).st_ino != store.path(digest.sha256).stat().st_ino
    assert store.verify(digest.sha256)


def test_unknown_and_malformed_hashes(store: BlobStore) -> None:
    unknown = "0" * 64
    assert not store.has(unknown)
    assert not store.verify(unknown)
    with pytest.raises(MissingBlobError):
        store.open(unknown)
    with pytest.raises(StoreError):
        store.has("../../etc/passwd")


def test_adopt_links_the_file_without_copying(store: BlobStore, tmp_path: Path) -> None:
    source, digest = finished_upload(tmp_path / "server" / "uploads", os.urandom(1_000_000))
    blob = store.adopt(source, digest)
    assert blob.created
    assert blob.path == store.path(digest.sha256)
    assert os.stat(source).st_ino == os.stat(blob.path).st_ino  # one inode, two names: nothing copied
    assert source.exists()  # the caller removes its own name when its records say so
    source.unlink()
    assert store.verify(digest.sha256)
    assert blob.path.stat().st_mode & 0o777 == 0o444


def test_a_second_adoption_keeps_the_first_blob(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    first, digest = finished_upload(tmp_path / "a", data)
    second, _ = finished_upload(tmp_path / "b", data)
    original = store.adopt(first, digest)
    inode = os.stat(original.path).st_ino
    again = store.adopt(second, digest)
    assert not again.created
    assert os.stat(store.path(digest.sha256)).st_ino == inode
    assert os.stat(second).st_ino != inode  # the duplicate never replaced the stored blob


def test_a_put_of_stored_bytes_keeps_the_first_blob(store: BlobStore) -> None:
    digest = store.put_bytes(b"same bytes")
    inode = os.stat(store.path(digest.sha256)).st_ino
    assert store.put_bytes(b"same bytes") == digest
    assert os.stat(store.path(digest.sha256)).st_ino == inode


def test_adopt_refuses_a_file_of_another_size(store: BlobStore, tmp_path: Path) -> None:
    source, digest = finished_upload(tmp_path / "in", b"twelve bytes")
    with pytest.raises(StoreError):
        store.adopt(source, Digest(digest.sha256, 13))
    assert not store.has(digest.sha256)


def test_adopt_across_filesystems_copies_and_checks(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, digest = finished_upload(tmp_path / "in", os.urandom(50_000))
    real_link = os.link

    def no_link_from_the_upload_folder(from_path: Path, to_path: Path) -> None:
        if Path(from_path) == source:  # the upload folder is "another filesystem"; the store's own tmp is not
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(from_path, to_path)

    monkeypatch.setattr("os.link", no_link_from_the_upload_folder)
    blob = store.adopt(source, digest)
    assert blob.created
    assert os.stat(source).st_ino != os.stat(blob.path).st_ino
    assert store.verify(digest.sha256)
    lie = Digest("f" * 64, digest.size)
    with pytest.raises(StoreError):
        store.adopt(source, lie)  # a copy is hashed again: a wrong digest cannot name the bytes
    assert not store.has(lie.sha256)


def test_verify_catches_a_blob_changed_on_disk(store: BlobStore) -> None:
    digest = store.put_bytes(b"original bytes of a photo")
    path = store.path(digest.sha256)
    path.chmod(0o644)
    path.write_bytes(b"Original bytes of a photo")  # one letter, same size
    assert not store.verify(digest.sha256)
    path.unlink()
    assert not store.verify(digest.sha256)
