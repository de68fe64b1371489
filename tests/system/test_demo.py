"""`fieldproof demo --json` end to end, as a subprocess: the whole journey on SQLite (server, simulated devices,
gateway listen/import/enroll/sync, verification on the server, court package verified offline, a tampered copy
caught), and the same on PostgreSQL when one is reachable."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import fresh_postgres_database, require_postgres
from tests.system.conftest import fieldproof_command


def run_demo(workdir: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run(
        [*fieldproof_command(), "demo", "--workdir", str(workdir), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert "Traceback" not in done.stderr
    try:
        summary: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no JSON summary on stdout:\n{done.stdout}\n{done.stderr}")
    return done, summary


def check_journey(done: subprocess.CompletedProcess[str], summary: dict[str, Any], workdir: Path) -> None:
    assert done.returncode == 0, f"{summary.get('failed_step')}\n{done.stderr}"
    assert summary["ok"] is True
    assert summary["failed_step"] is None
    assert [s["name"] for s in summary["steps"]] == [
        "server",
        "case",
        "listen",
        "import",
        "enroll",
        "sync",
        "server-verify",
        "export",
        "offline-verify",
        "tamper",
    ]
    assert all(s["ok"] for s in summary["steps"])
    assert "✓" in done.stderr, "progress per step on stderr"

    devices = summary["devices"]
    assert devices["LYDUST0042"] == {
        "items": 1,
        "readings": 36,
        "exceedances": devices["LYDUST0042"]["exceedances"],
        "kinds": {"sensor-batch": 1},
    }
    assert devices["LYDUST0042"]["exceedances"] > 0, "the serial monitor runs with values over the limits"
    assert devices["LYMQTT0001"]["items"] == 1
    assert devices["LYMQTT0001"]["readings"] == 24, "8 MQTT messages of 3 readings each"
    assert devices["GNSS1"]["items"] == 1
    assert devices["Hikvision DSJ000123"] == {
        "items": 6,
        "readings": 0,
        "exceedances": 0,
        "kinds": {"photo": 5, "video": 1},
    }
    totals = summary["totals"]
    assert totals["items"] == 9
    assert totals["readings"] == 60
    assert totals["exceedances"] == len(summary["exceedances"]) == sum(d["exceedances"] for d in devices.values())
    assert summary["sync"]["synced"] == 9

    kinds = {flag["kind"]: flag for flag in summary["flags"]}
    assert kinds["outside-geofence"]["name"] == "IMG_0106.JPG"
    assert kinds["outside-geofence"]["distance_m"] > 1000
    assert kinds["clock-drift"]["offset_s"] == pytest.approx(420, abs=2), "the camera's clock is 7 minutes fast"
    assert kinds["sequence-gap"]["missing"] == "104"
    assert all(flag["zh"] and flag["en"] for flag in summary["flags"])

    assert summary["server_verified"] is True
    package = summary["package"]
    assert package["verified"] is True
    assert package["items"] == 9
    assert Path(package["path"]).is_file()
    assert Path(package["report_html"]).is_file()
    assert summary["tamper"]["caught"] is True
    assert summary["tamper"]["exit_status"] == 1

    verify = subprocess.run(
        [*fieldproof_command(), "verify", "--trust", str(workdir / "server.key.pub"), package["path"]],
        capture_output=True,
        check=False,
    )
    assert verify.returncode == 0, "the package the demo leaves verifies offline"
    assert summary["field_app"]["url"].endswith("/app/")
    assert summary["field_app"]["available"] is True
    assert summary["field_app"]["logins"]


@pytest.mark.slow
def test_the_demo_runs_the_whole_journey_on_sqlite(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    done, summary = run_demo(workdir)
    check_journey(done, summary, workdir)
    assert (workdir / "server" / "server.sqlite3").is_file()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    require_postgres("this test needs it")
    with fresh_postgres_database("fp_demo") as url:
        yield url


@pytest.mark.slow
def test_the_demo_runs_the_whole_journey_on_postgresql(tmp_path: Path, postgres_database: str) -> None:
    workdir = tmp_path / "demo"
    done, summary = run_demo(workdir, "--database-url", postgres_database)
    check_journey(done, summary, workdir)
    assert not (workdir / "server" / "server.sqlite3").exists()


def test_a_failed_step_is_named_with_its_reason_and_exits_1(tmp_path: Path) -> None:
    done, summary = run_demo(tmp_path / "demo", "--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert done.returncode == 1
    assert summary["ok"] is False
    assert summary["failed_step"]["name"] == "server"
    assert summary["failed_step"]["why"]
    assert "✗" in done.stderr


def test_a_non_empty_workdir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "something").write_text("x")
    done = subprocess.run(
        [*fieldproof_command(), "demo", "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "not empty" in done.stderr
    assert "Traceback" not in done.stderr
