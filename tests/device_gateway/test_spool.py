"""The spool keeps frames verbatim, stores duplicates once, refuses rewrites, and seals verifiable batches."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_gateway.errors import SpoolError
from device_gateway.gps import Fix, GnssTrack
from device_gateway.identity import gateway_key
from device_gateway.spool import FrameRecord, Spool
from device_gateway.spool.batches import BATCH_FORMAT, gateway_clock_offset, seal_pending_batches
from device_gateway.spool.queries import reading_rows, spool_status
from evidence.canonical import canonical_bytes, loads
from evidence.custody import CustodyEvent, verify_chain, verify_event_signature
from evidence.hashing import sha256_file
from evidence.readings import Reading

T0 = datetime(2026, 5, 12, 1, 41, 7, tzinfo=UTC)


def frame(n: int, *, device: str = "LYDUST0042", raw: bytes | None = None, **extra: object) -> FrameRecord:
    fields: dict[str, object] = {
        "device": device,
        "source": "serial:///dev/ttyUSB0",
        "protocol": "hj212",
        "raw": raw or f"##frame {n}\r\n".encode(),
        "received_at": T0 + timedelta(minutes=n, seconds=2),
        "readings": (Reading("a34004", "Rtd", 50.0 + n, "N", None, "ug/m3"),),
        "measured_at": T0 + timedelta(minutes=n),
        "visit": "V1",
    }
    fields.update(extra)
    return FrameRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "data") as opened:
        yield opened


def test_frames_are_kept_verbatim_with_their_readings(spool: Spool) -> None:
    raw = b"##0101QN=1;ST=32\xe6\xb1\xa1\r\n"
    stored = spool.store_frames([frame(0, raw=raw)])
    assert stored[0].frame_id is not None
    assert [r.code for _id, r in stored[0].new_readings] == ["a34004"]
    row = spool.connection.execute("SELECT raw, raw_sha256, received_at FROM frames").fetchone()
    assert row == (raw, hashlib.sha256(raw).hexdigest(), "2026-05-12T01:41:09.000000Z")


def test_the_same_bytes_from_a_device_are_stored_once(spool: Spool) -> None:
    first = spool.store_frames([frame(1)])
    again = spool.store_frames([frame(1), frame(1)])
    assert not first[0].duplicate
    assert [s.duplicate for s in again] == [True, True]
    assert spool_status(spool.connection).frames == 1


def test_a_resend_with_other_bytes_keeps_the_frame_but_not_a_second_reading(spool: Spool) -> None:
    spool.store_frames([frame(1)])
    resent = spool.store_frames([frame(1, raw=b"##frame 1 resent with another QN\r\n")])
    assert resent[0].frame_id is not None, "the frame is what the device sent: kept"
    assert resent[0].new_readings == (), "the reading for that device, code, kind and time exists already"


def test_identical_modbus_responses_from_two_polls_are_two_frames(spool: Spool) -> None:
    raw = bytes.fromhex("010304411c0000")
    polls = [frame(n, raw=raw, protocol="modbus", distinct_by=f"poll-{n}") for n in (1, 2)]
    stored = spool.store_frames(polls)
    assert [s.duplicate for s in stored] == [False, False]


@pytest.mark.parametrize("table", ["frames", "readings", "items", "events"])
def test_evidence_tables_refuse_updates_and_deletes(spool: Spool, table: str) -> None:
    spool.store_frames([frame(1)])
    seal_pending_batches(spool, key=gateway_key(spool.root), now=T0 + timedelta(hours=1))
    for statement in (f"UPDATE {table} SET rowid = rowid", f"DELETE FROM {table}"):
        with pytest.raises(SpoolError, match="never updated or deleted"), spool.transaction() as db:
            db.execute(statement)


def test_sealing_makes_one_item_per_device_and_visit(spool: Spool) -> None:
    spool.store_frames([frame(n) for n in range(5)] + [frame(9, device="GPS1", readings=())])
    key = gateway_key(spool.root)
    sealed = seal_pending_batches(spool, key=key, now=T0 + timedelta(hours=1))
    assert sorted((b.device, b.frames, b.readings) for b in sealed) == [("GPS1", 1, 0), ("LYDUST0042", 5, 5)]
    assert seal_pending_batches(spool, key=key, now=T0 + timedelta(hours=2)) == [], "nothing left to seal"
    spool.store_frames([frame(10)])
    later = seal_pending_batches(spool, key=key, now=T0 + timedelta(hours=3))
    assert [(b.device, b.frames) for b in later] == [("LYDUST0042", 1)]


def test_a_batch_file_holds_every_raw_frame_and_rederives_its_readings(spool: Spool) -> None:
    records = [frame(n) for n in range(3)]
    spool.store_frames(records)
    batch = seal_pending_batches(spool, key=gateway_key(spool.root), now=T0 + timedelta(hours=1))[0]
    path = spool.blobs.path_for(batch.sha256)
    assert sha256_file(path).sha256 == batch.sha256
    lines = path.read_bytes().splitlines()
    assert all(canonical_bytes(loads(line)) == line for line in lines), "every line is canonical JSON"
    header, *frames = (json.loads(line) for line in lines)
    assert header["format"] == BATCH_FORMAT
    assert header["frames"] == 3
    assert [base64.b64decode(f["raw"]) for f in frames] == [r.raw for r in records]
    assert [f["sha256"] for f in frames] == [hashlib.sha256(r.raw).hexdigest() for r in records]


def test_batch_custody_events_are_signed_by_the_gateway_and_chained(spool: Spool) -> None:
    spool.store_frames([frame(n) for n in range(2)])
    key = gateway_key(spool.root)
    track = GnssTrack()
    track.add(Fix(T0 + timedelta(seconds=1), 34.6197, 112.454, 141.0, 1, 12, 0.8, "gateway-gnss-track"))
    batch = seal_pending_batches(spool, key=key, now=T0 + timedelta(minutes=1), track=track)[0]
    rows = spool.connection.execute("SELECT event FROM events WHERE item_id = ? ORDER BY seq", (batch.item_id,))
    events = [CustodyEvent.from_bytes(row[0]) for row in rows]
    verify_chain(events)
    for event in events:
        verify_event_signature(event, {key.key_id: key.public})
    acquired, imported = events
    assert (acquired.action, imported.action) == ("acquired", "imported")
    assert acquired.actor["device"] == "LYDUST0042"
    assert imported.actor["device"] == key.name
    assert acquired.details["frames"] == 2
    assert acquired.place is not None
    assert acquired.place["source"] == "gateway-gnss-track"
    assert acquired.item_sha256 == batch.sha256


def test_readings_are_placed_when_sealed_and_a_place_is_never_invented(spool: Spool) -> None:
    own = frame(1, device="LYOWN0001", device_position=(34.5, 112.3, 120.0))
    far = frame(40)  # 40 minutes after the only fix: too far from it to be placed
    near = frame(0)
    spool.store_frames([own, far, near])
    track = GnssTrack()
    track.add(Fix(T0 + timedelta(seconds=2), 34.6197, 112.454, 141.0, 1, 12, 0.8, "gateway-gnss-track"))
    seal_pending_batches(spool, key=gateway_key(spool.root), now=T0 + timedelta(hours=1), track=track)
    placed = {(r.device, r.measured_at): r.position for r in reading_rows(spool.connection)}
    assert placed[("LYOWN0001", "2026-05-12T01:42:07.000000Z")]["source"] == "device-gnss"  # type: ignore[index]
    assert placed[("LYDUST0042", "2026-05-12T01:41:07.000000Z")]["source"] == "gateway-gnss-track"  # type: ignore[index]
    assert placed[("LYDUST0042", "2026-05-12T02:21:07.000000Z")] is None


def test_the_gateway_clock_offset_comes_from_gnss_fix_receipts(spool: Spool) -> None:
    fix_time = T0 + timedelta(seconds=30)
    gps = frame(0, device="GNSS1", readings=(), fix=Fix(fix_time, 34.6, 112.4, None, 1, 8, 1.0, "gateway-gnss-track"))
    spool.store_frames([gps])  # received at T0+2 s by the gateway's clock: its clock is 28 s behind
    assert gateway_clock_offset(spool.connection) == 28.0


def test_a_tampered_batch_blob_no_longer_matches_its_item(spool: Spool) -> None:
    spool.store_frames([frame(1)])
    batch = seal_pending_batches(spool, key=gateway_key(spool.root), now=T0)[0]
    path = spool.blobs.path_for(batch.sha256)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"frames":1', b'"frames":2'))
    assert not spool.blobs.verify(batch.sha256)


def test_the_gateway_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = gateway_key(tmp_path)
    again = gateway_key(tmp_path)
    assert first.key_id == again.key_id
    assert first.name.startswith("fieldproof-gateway-")
    assert (tmp_path / "keys" / "gateway.key").stat().st_mode & 0o077 == 0


def test_a_spool_that_cannot_be_opened_says_why(tmp_path: Path) -> None:
    (tmp_path / "spool.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SpoolError, match="cannot open the spool"):
        Spool(tmp_path)


def test_readers_see_committed_frames_while_a_writer_has_the_spool_open(spool: Spool) -> None:
    spool.store_frames([frame(1)])
    with sqlite3.connect(f"file:{spool.root / 'spool.sqlite3'}?mode=ro", uri=True) as reader:
        assert reader.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 1
