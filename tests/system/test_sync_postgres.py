"""The sync journey on PostgreSQL: a real `fieldproof server` on a fresh database, a gateway that enrolls, syncs
photos and a sensor batch, and a second sync that creates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from device_gateway.identity import gateway_key
from device_gateway.spool import Spool
from device_gateway.spool.queries import spool_status
from fieldproof.cli import main
from tests.device_gateway.sync_world import LiveServer, fill_spool, start_server
from tests.server.conftest import fresh_postgres_database, require_postgres


@pytest.fixture
def postgres_database() -> Iterator[str]:
    require_postgres("the PostgreSQL sync journey needs it")
    with fresh_postgres_database("fp_sync") as url:
        yield url


@pytest.fixture
def server(tmp_path: Path, postgres_database: str) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server", postgres_database)
    yield live
    live.stop()


def test_the_sync_journey_on_postgresql(server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "gateway"
    fill_spool(data)
    assert main(["gateway", "enroll", "--server", server.url, "--code", server.codes[0], "--data", str(data)]) == 0
    case_id = server.new_case()
    sync = ["gateway", "sync", "--server", server.url, "--data", str(data), "--token", server.investigator]
    capsys.readouterr()
    assert main([*sync, "--case", str(case_id)]) == 0, capsys.readouterr().err
    with Spool(data) as spool:
        items = spool_status(spool.connection).items
    assert {item.sync for item in items} == {"synced"}
    for item in items:
        held = server.api("GET", f"/items/{item.item_id}").json()
        assert held["sha256"] == item.sha256
        assert held["device_key_id"] == gateway_key(data).key_id
        assert server.api("POST", f"/items/{item.item_id}/verify").json()["valid"]
    assert len(server.readings_of(case_id)) == 60
    size = server.api("GET", "/log/checkpoint", params={"format": "json"}).json()["size"]
    assert main([*sync, "--json"]) == 0
    assert server.api("GET", "/log/checkpoint", params={"format": "json"}).json()["size"] == size
    assert len(server.readings_of(case_id)) == 60
