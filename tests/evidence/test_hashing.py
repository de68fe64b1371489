"""Streaming SHA-256, hash-while-copy, and the content-addressed store, including tampering and racing sources."""

from __future__ import annotations

import hashlib
import io
import os
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evidence.errors import SourceChangedError, StoreError
from evidence.hashing import (
    CHUNK_SIZE,
    ContentStore,
    Digest,
    copy_hashing,
    is_sha256_hex,
    sha256_bytes,
    sha256_file,
    sha256_stream,
)

SIZES = [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]
OLD_MTIME_NS = 1_600_000_000_123_456_789  # set on sources so any later write visibly changes the mtime


def _data(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    return path


def _expected(data: bytes) -> Digest:
    return Digest(hashlib.sha256(data).hexdigest(), len(data))


class _TrickleStream(io.RawIOBase):
    """A raw stream that returns at most seven bytes per read, as pipes and sockets may."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(7, len(buffer), len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


# --- hashing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = _data(size)
    seen: list[int] = []
    assert sha256_file(_write(tmp_path / "f", data), progress=seen.append) == _expected(data)
    assert sum(seen) == size
    assert all(0 < count <= CHUNK_SIZE for count in seen)


@pytest.mark.parametrize("size", SIZES)
def test_sha256_stream_matches_hashlib(size: int) -> None:
    data = _data(size)
    assert sha256_stream(io.BytesIO(data)) == _expected(data)


def test_sha256_stream_handles_short_reads() -> None:
    data = _data(5000)
    assert sha256_stream(_TrickleStream(data)) == _expected(data)


def test_sha256_bytes_and_hex_check() -> None:
    digest = sha256_bytes(b"abc")
    assert digest == Digest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 3)
    assert is_sha256_hex(digest.sha256)
    for bad in (digest.sha256.upper(), digest.sha256[:-1], digest.sha256 + "0", "g" * 64, ""):
        assert not is_sha256_hex(bad)


# --- copy_hashing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_copy_hashing_copies_exactly_and_leaves_the_source_alone(tmp_path: Path, size: int) -> None:
    data = _data(size)
    source = _write(tmp_path / "source", data)
    before = source.stat()
    seen: list[int] = []
    digest = copy_hashing(source, tmp_path / "copy", progress=seen.append)
    assert digest == _expected(data)
    assert (tmp_path / "copy").read_bytes() == data
    assert source.read_bytes() == data
    assert (source.stat().st_mtime_ns, source.stat().st_size) == (before.st_mtime_ns, before.st_size)
    assert sum(seen) == size


def test_copy_hashing_refuses_an_existing_destination_and_keeps_it(tmp_path: Path) -> None:
    source = _write(tmp_path / "source", b"new bytes")
    destination = _write(tmp_path / "destination", b"precious original")
    with pytest.raises((FileExistsError, StoreError)):
        copy_hashing(source, destination)
    assert destination.exists(), "the refused destination was deleted"
    assert destination.read_bytes() == b"precious original"


def test_copy_hashing_of_a_missing_source_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(SourceChangedError):
        copy_hashing(tmp_path / "absent", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def _once(action: Callable[[], None]) -> Callable[[int], None]:
    """A progress callback that performs ``action`` after the first chunk only."""
    done: list[bool] = []

    def progress(_count: int) -> None:
        if not done:
            done.append(True)
            action()

    return progress


def _append(path: Path) -> Callable[[], None]:
    def action() -> None:
        with open(path, "ab") as handle:
            handle.write(b"appended while copying")

    return action


def _rewrite_same_size(path: Path) -> Callable[[], None]:
    def action() -> None:
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            handle.write(bytes(size))

    return action


def _truncate(path: Path) -> Callable[[], None]:
    return lambda: os.truncate(path, 10)


def _delete(path: Path) -> Callable[[], None]:
    return path.unlink


@pytest.mark.parametrize("change", [_append, _rewrite_same_size, _truncate, _delete])
@pytest.mark.parametrize("size", [100, 3 * CHUNK_SIZE])
def test_copy_hashing_detects_a_source_changing_during_the_copy(
    tmp_path: Path, change: Callable[[Path], Callable[[], None]], size: int
) -> None:
    source = _write(tmp_path / "source", _data(size))
    with pytest.raises(SourceChangedError):
        copy_hashing(source, tmp_path / "copy", progress=_once(change(source)))
    assert not (tmp_path / "copy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if change is _delete else ["source"])


def test_copy_hashing_removes_the_copy_when_progress_raises(tmp_path: Path) -> None:
    source = _write(tmp_path / "source", _data(2 * CHUNK_SIZE))

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_hashing(source, tmp_path / "copy", progress=_once(interrupt))
    assert not (tmp_path / "copy").exists()


# --- ContentStore ------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def _tmp_contents(store: ContentStore) -> list[Path]:
    return list((store.root / "tmp").iterdir())


def test_put_file_stores_under_its_hash(tmp_path: Path, store: ContentStore) -> None:
    data = _data(CHUNK_SIZE + 1)
    blob = store.put_file(_write(tmp_path / "photo.jpg", data))
    sha = hashlib.sha256(data).hexdigest()
    assert blob.digest == _expected(data)
    assert blob.created is True
    assert blob.path == store.path_for(sha) == store.root / "sha256" / sha[:2] / sha[2:4] / sha
    assert blob.path.read_bytes() == data
    assert store.has(sha)
    assert list(store.iter_hashes()) == [sha]
    with store.open(sha) as stored:
        assert stored.read() == data
    assert _tmp_contents(store) == []


def test_second_put_of_identical_bytes_keeps_the_existing_blob(tmp_path: Path, store: ContentStore) -> None:
    data = _data(5000)
    first = store.put_file(_write(tmp_path / "a", data))
    os.utime(first.path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    before = first.path.stat()
    again = store.put_file(_write(tmp_path / "b", data))
    assert again.created is False
    assert again.path == first.path
    assert again.digest == first.digest
    after = first.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert store.put_bytes(data).created is False
    assert first.path.stat().st_ino == before.st_ino
    assert _tmp_contents(store) == []


def test_put_bytes_stores_and_deduplicates(store: ContentStore) -> None:
    blob = store.put_bytes(b"reading batch")
    assert blob.created is True
    assert blob.digest == sha256_bytes(b"reading batch")
    assert blob.path.read_bytes() == b"reading batch"
    assert store.put_bytes(b"reading batch").created is False
    assert store.put_bytes(b"").digest == _expected(b"")
    assert _tmp_contents(store) == []


def test_concurrent_writers_of_the_same_bytes_leave_one_blob(store: ContentStore) -> None:
    data = _data(3000)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.put_bytes(data), range(16)))
    assert sum(blob.created for blob in results) == 1
    assert {blob.path for blob in results} == {store.path_for(hashlib.sha256(data).hexdigest())}
    assert results[0].path.read_bytes() == data
    assert _tmp_contents(store) == []


def test_verify_detects_a_tampered_blob(store: ContentStore) -> None:
    blob = store.put_bytes(_data(4096))
    assert store.verify(blob.digest.sha256) is True
    tampered = bytearray(blob.path.read_bytes())
    tampered[2048] ^= 0x01
    blob.path.write_bytes(bytes(tampered))
    assert store.verify(blob.digest.sha256) is False


def test_verify_of_an_absent_blob_is_false(store: ContentStore) -> None:
    assert store.verify("0" * 64) is False
    assert store.has("0" * 64) is False


@pytest.mark.parametrize(
    "name",
    ["A" * 64, "a" * 63, "a" * 65, "g" * 64, "", "../" * 21 + "a", "a" * 62 + "/x", " " + "a" * 63, "0x" + "a" * 62],
)
def test_path_for_refuses_names_that_are_not_sha256_hex(store: ContentStore, name: str) -> None:
    for call in (store.path_for, store.has, store.verify, store.open):
        with pytest.raises(StoreError):
            call(name)


def test_failed_put_file_leaves_no_temporary_file_and_no_blob(tmp_path: Path, store: ContentStore) -> None:
    source = _write(tmp_path / "growing.log", _data(1000))
    with pytest.raises(SourceChangedError):
        store.put_file(source, progress=_once(_append(source)))
    with pytest.raises(SourceChangedError):
        store.put_file(tmp_path / "absent")
    assert _tmp_contents(store) == []
    assert list(store.iter_hashes()) == []


def test_put_file_leaves_the_source_untouched(tmp_path: Path, store: ContentStore) -> None:
    data = _data(2 * CHUNK_SIZE + 3)
    source = _write(tmp_path / "clip.mp4", data)
    store.put_file(source)
    assert source.read_bytes() == data
    assert source.stat().st_mtime_ns == OLD_MTIME_NS


def test_copy_stops_cleanly_when_the_caller_fails_mid_copy(tmp_path: Path) -> None:
    """An error in the hashing thread (here the progress callback) must stop the I/O thread, not hang it."""
    source = _write(tmp_path / "big.bin", _data(20 * CHUNK_SIZE))
    destination = tmp_path / "copy.bin"

    def fail_after_two_chunks(_count: int, seen: list[int] = []) -> None:  # noqa: B006 - call counter
        seen.append(1)
        if len(seen) == 2:
            raise RuntimeError("operator pressed Ctrl-C")

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(copy_hashing, source, destination, progress=fail_after_two_chunks)
        with pytest.raises(RuntimeError, match="Ctrl-C"):
            future.result(timeout=30)
    assert not destination.exists()
