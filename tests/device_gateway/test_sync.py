"""Sync against a real server (``fieldproof server`` in a subprocess, SQLite): enroll, sync everything once, resume
an interrupted upload, refuse a server whose log is not the one seen before, push readings exactly once."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from device_gateway.gps import Fix, GnssTrack
from device_gateway.identity import gateway_key
from device_gateway.media.derived import after_import
from device_gateway.media.importer import ImportOptions, import_media
from device_gateway.spool import Spool
from device_gateway.spool.queries import spool_status
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient
from device_gateway.sync.engine import SyncOptions, SyncSummary, sync
from device_gateway.sync.upload import TUS, UploadLimits
from evidence.checkpoint import SignedNote
from evidence.custody import CustodyEvent
from evidence.merkle import leaf_hash, verify_inclusion
from fieldproof.cli import main
from tests.device_gateway.media_samples import camera_naive, jpeg
from tests.device_gateway.sync_world import (
    PLACE,
    T0,
    LiveServer,
    fill_spool,
    fresh_log_same_key,
    import_photos,
    start_server,
)
from tests.fieldproof.conftest import CliResult

Cli = Callable[..., CliResult]
CST = timezone(timedelta(hours=8))  # the cameras' clocks show China Standard Time


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str | Path | int) -> CliResult:
        capsys.readouterr()
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    return run


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server")
    yield live
    live.stop()


@pytest.fixture
def gateway_data(tmp_path: Path) -> Path:
    data = tmp_path / "gateway"
    fill_spool(data)
    return data


def enroll(cli: Cli, server: LiveServer, data: Path) -> dict[str, Any]:
    result = cli("gateway", "enroll", "--server", server.url, "--code", server.codes[0], "--data", data, "--json")
    assert result.status == 0, result.stderr
    return dict(result.json())


def run_sync(cli: Cli, server: LiveServer, data: Path, *extra: str | int) -> CliResult:
    return cli(
        "gateway", "sync", "--server", server.url, "--data", data, "--token", server.investigator, "--json", *extra
    )


def spool_items(data: Path) -> list[Any]:
    with Spool(data) as spool:
        return spool_status(spool.connection).items


def test_enroll_keeps_the_server_and_device_and_is_idempotent(cli: Cli, server: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "gateway"
    first = enroll(cli, server, data)
    assert first["new"] is True
    assert first["key_id"] == gateway_key(data).key_id
    again = enroll(cli, server, data)
    assert again["new"] is False
    assert again["device_id"] == first["device_id"]
    devices = server.api("GET", "/devices").json()["items"]
    assert [d["key_id"] for d in devices] == [first["key_id"]]


def test_a_sync_sends_everything_once_with_verified_receipts(cli: Cli, server: LiveServer, gateway_data: Path) -> None:
    enroll(cli, server, gateway_data)
    case_id = server.new_case()
    result = run_sync(cli, server, gateway_data, "--case", case_id)
    assert result.status == 0, result.stdout + result.stderr
    summary = result.json()
    assert (summary["synced"], summary["failed"], summary["pending"]) == (4, 0, 0)
    assert summary["readings"]["stored"] == 60
    _check_server_holds_every_item(server, gateway_data)
    _check_receipts_offline(gateway_data, server.url)
    assert {item.sync for item in spool_items(gateway_data)} == {"synced"}
    assert len(server.readings_of(case_id)) == 60

    log_size = _log_size(server)
    again = run_sync(cli, server, gateway_data)
    assert again.status == 0, again.stderr
    assert (again.json()["synced"], again.json()["bytes_sent"], again.json()["readings"]["stored"]) == (0, 0, 0)
    assert _log_size(server) == log_size, "a second sync creates nothing"


def _check_server_holds_every_item(server: LiveServer, data: Path) -> None:
    key_id = gateway_key(data).key_id
    for item in spool_items(data):
        held = server.api("GET", f"/items/{item.item_id}").json()
        assert (held["sha256"], held["size"], held["log_index"]) == (item.sha256, item.size, item.log_index)
        if item.kind == "photo":  # capture time and place from EXIF GPS, with their sources
            assert (held["time_source"], held["location"]["source"]) == ("gnss", "exif-gps")
            assert datetime.fromisoformat(held["captured_at"]) >= T0
        verified = server.api("POST", f"/items/{item.item_id}/verify").json()
        assert verified["valid"], verified
        custody = server.api("GET", f"/items/{item.item_id}/custody").json()
        received = next(entry["event"] for entry in custody if entry["event"]["action"] == "received")
        assert received["details"]["via_device"] == key_id
        assert received["actor"]["user"] == "wang"


def _check_receipts_offline(data: Path, url: str, *, count: int = 4) -> None:
    with Spool(data) as spool:
        rows = spool.connection.execute("SELECT log_index, received_event, inclusion, checkpoint FROM receipts")
        receipts = rows.fetchall()
        assert len(receipts) == count
        for log_index, event, inclusion, note in receipts:
            head = SignedNote.parse(note.encode()).checkpoint
            proof = [base64.b64decode(node) for node in json.loads(inclusion)["proof"]]
            leaf = leaf_hash(CustodyEvent.from_bytes(bytes(event)).to_bytes())
            verify_inclusion(leaf, log_index, head.size, proof, head.root)
        assert state.seen_checkpoints(spool.connection, url), "every checkpoint seen is kept"


def _log_size(server: LiveServer) -> int:
    return int(server.api("GET", "/log/checkpoint", params={"format": "json"}).json()["size"])


def _sync_in_process(server: LiveServer, data: Path, options: SyncOptions) -> SyncSummary:
    with Spool(data) as spool, ServerClient(server.url, key=gateway_key(data), token=server.investigator) as client:
        return sync(spool, client, options=options)


def test_an_interrupted_upload_resumes_at_the_servers_offset(cli: Cli, server: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "gateway"
    with Spool(data) as spool:
        import_photos(spool, tmp_path / "DCIM", 1)
    enroll(cli, server, data)
    case_id = server.new_case()
    stopped = _sync_in_process(
        server, data, SyncOptions(case_id=case_id, limits=UploadLimits(chunk_size=256, stop_after_bytes=512))
    )
    assert stopped.stopped is not None
    assert "resumes on the next sync" in stopped.stopped
    [item] = spool_items(data)
    assert (item.sync, item.uploaded) == ("uploading", 512)
    with Spool(data) as spool:
        url = state.upload_state(spool.connection, item.item_id).url
    assert url is not None
    head = server.api("HEAD", url.removeprefix("/api/v1"), who="investigator", headers=TUS)
    assert head.headers["Upload-Offset"] == "512", "the server holds exactly what the gateway recorded"

    status = cli("gateway", "status", "--data", data, "--json").json()
    assert status["items"][0]["sync"] == "uploading"
    assert status["items"][0]["uploaded"] == 512

    resumed = run_sync(cli, server, data)
    assert resumed.status == 0, resumed.stderr
    assert resumed.json()["bytes_sent"] == item.size - 512, "only the rest is sent"
    held = server.api("GET", f"/items/{item.item_id}").json()
    assert held["sha256"] == item.sha256


def test_a_server_whose_log_is_not_consistent_is_refused(cli: Cli, server: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "gateway"
    fill_spool(data, photos=2)
    enroll(cli, server, data)
    assert run_sync(cli, server, data, "--case", server.new_case()).status == 0
    replaced = fresh_log_same_key(server, tmp_path / "replaced")
    try:
        replaced.enroll_key_directly(data)
        with Spool(data) as spool:
            import_photos(spool, tmp_path / "DCIM-2", 1, first=10)
        refused = run_sync(cli, replaced, data, "--case", replaced.new_case())
        assert refused.status == 1
        assert "not consistent" in refused.json()["stopped"]
        new_item = [item for item in spool_items(data) if item.sync != "synced"]
        assert len(new_item) == 1, "no receipt of the replaced log is kept"
    finally:
        replaced.stop()


def test_a_server_with_another_log_key_is_refused(cli: Cli, server: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "gateway"
    fill_spool(data, photos=1)
    enroll(cli, server, data)
    assert run_sync(cli, server, data, "--case", server.new_case()).status == 0
    server.stop()
    other = LiveServer(tmp_path / "other", port=server.port)
    other.bootstrap()
    other.start()
    try:
        other.enroll_key_directly(data)
        with Spool(data) as spool:
            import_photos(spool, tmp_path / "DCIM-2", 1, first=10)
        refused = run_sync(cli, other, data, "--case", other.new_case())
        assert refused.status == 1
        assert "pinned" in refused.json()["stopped"]
        assert refused.json()["bytes_sent"] == 0, "nothing is sent to a server that is not trusted"
    finally:
        other.stop()


def test_readings_arrive_once_even_when_resent(cli: Cli, server: LiveServer, gateway_data: Path) -> None:
    enroll(cli, server, gateway_data)
    case_id = server.new_case()
    assert run_sync(cli, server, gateway_data, "--case", case_id).status == 0
    with Spool(gateway_data) as spool:  # as if the answer to every readings batch had been lost
        batch = spool.connection.execute("SELECT id FROM items WHERE kind = 'sensor-batch'").fetchone()[0]
        state.save_progress(spool, batch, readings_through=0)
    resent = run_sync(cli, server, gateway_data)
    assert resent.status == 0, resent.stderr
    assert resent.json()["readings"] == {"stored": 0, "duplicates": 60, "alerts": 0}
    assert len(server.readings_of(case_id)) == 60


def test_items_without_a_case_wait_and_the_sync_says_why(cli: Cli, server: LiveServer, gateway_data: Path) -> None:
    enroll(cli, server, gateway_data)
    result = run_sync(cli, server, gateway_data)
    assert result.status == 1
    assert {item["reason"] for item in result.json()["items"]} == {"no case: give --case ID"}


def test_a_sync_without_enrollment_or_token_is_bad_usage(cli: Cli, server: LiveServer, gateway_data: Path) -> None:
    not_enrolled = run_sync(cli, server, gateway_data)
    assert not_enrolled.status == 2
    assert "not enrolled" in not_enrolled.stderr
    no_token = cli("gateway", "sync", "--server", server.url, "--data", gateway_data)
    assert no_token.status == 2
    assert "token" in no_token.stderr


def test_items_in_flight_together_register_derivatives_after_their_originals(
    cli: Cli, server: LiveServer, tmp_path: Path
) -> None:
    data = tmp_path / "gateway"
    card = tmp_path / "card"
    card.mkdir()
    track = GnssTrack()
    for step in range(70):  # a fix every 10 s for the photos' 10 minutes
        at = T0 + timedelta(seconds=10 * step)
        track.add(Fix(at, PLACE[0] + step * 1e-6, PLACE[1], PLACE[2], 1, 10, 0.9, "gateway-gnss-track"))
    for n in range(10):  # the first has its own GNSS fix and time (the clock's offset); the track places the rest
        taken = T0 + timedelta(minutes=n, seconds=30)
        own_fix = n == 0
        camera_time = camera_naive(taken.astimezone(CST))
        place, fix_time = (PLACE, taken) if own_fix else (None, None)
        jpeg(card / f"IMG_{n:04d}.JPG", camera_time=camera_time, gps=place, gps_time=fix_time, seed=n)
    with Spool(data) as spool:
        options = ImportOptions(visit="V1", geotag_copies=True, zone=CST)
        report = import_media([card], spool=spool, key=gateway_key(data), options=options, track=track)
        after_import(report, spool=spool, key=gateway_key(data), options=options, now=T0 + timedelta(hours=1))
    enroll(cli, server, data)
    result = run_sync(cli, server, data, "--case", server.new_case(), "--parallel", 8, "--timeout", 30)
    assert result.status == 0, result.stdout + result.stderr
    assert result.json()["synced"] == 19
    copies = {item.item_id: item for item in spool_items(data) if "_geotagged" in item.name}
    assert len(copies) == 9
    indexes = {item.item_id: item.log_index for item in spool_items(data)}
    for copy_id in copies:
        held = server.api("GET", f"/items/{copy_id}").json()
        assert held["derived_from"] in indexes, "linked to its original on the server"
        assert indexes[held["derived_from"]] < indexes[copy_id], "the original was registered first"
    for item in spool_items(data):
        assert server.api("POST", f"/items/{item.item_id}/verify").json()["valid"]
    _check_receipts_offline(data, server.url, count=19)


@pytest.mark.parametrize(("option", "value"), [("--parallel", "0"), ("--parallel", "33"), ("--timeout", "0")])
def test_parallel_and_timeout_out_of_range_are_bad_usage(
    cli: Cli, server: LiveServer, gateway_data: Path, option: str, value: str
) -> None:
    enroll(cli, server, gateway_data)
    result = run_sync(cli, server, gateway_data, option, value)
    assert result.status == 2
    assert option in result.stderr
