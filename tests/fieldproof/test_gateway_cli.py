"""The `fieldproof gateway` commands: decode, listen, status and simulate, as a user or script runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from device_gateway.protocols import hj212
from device_gateway.simulators.monitor import MonitorSimulator
from device_gateway.simulators.readings import units_parameter
from tests.fieldproof.conftest import CliResult

Cli = Callable[..., CliResult]
FIELDPROOF = str(Path(sys.executable).with_name("fieldproof"))


def public_frames(testdata: Path) -> bytes:
    """The public HJ 212 vectors as the bytes a device would send (the file writes \\r\\n as four characters)."""
    lines = (testdata / "hj212" / "public-frames.txt").read_text(encoding="utf-8").splitlines()
    return b"".join(line.replace("\\r\\n", "\r\n").encode() for line in lines if line.startswith("##"))


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_decode_hj212_reports_each_frame_and_refuses_the_bad_crc(cli: Cli, tmp_path: Path, testdata: Path) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"\x00noise" + public_frames(testdata))
    result = cli("gateway", "decode", "--protocol", "hj212", capture)
    frames = json_lines(result.stdout)
    assert result.status == 1, "one frame is invalid"
    assert [f["ok"] for f in frames] == [True, True, True, True, False]
    assert frames[0]["cn"] == "1062"
    assert frames[0]["flag"] == 5
    assert str(frames[4]["error"]).startswith("crc")
    assert frames[4]["readings"] == []
    assert {"code": "w01018", "kind": "Rtd", "value": 231.0, "flag": "N"} in frames[1]["readings"]  # type: ignore[operator]


def test_decode_modbus_crc_only_when_asked(cli: Cli, tmp_path: Path) -> None:
    frame = hj212.encode_frame(qn=None, st="32", cn="2011", pw="1", mn="M1", flag=None, cp="a-Rtd=1", crc_kind="modbus")
    capture = tmp_path / "modbus-crc.bin"
    capture.write_bytes(frame)
    assert json_lines(cli("gateway", "decode", "--protocol", "hj212", capture).stdout)[0]["ok"] is False
    decoded = cli("gateway", "decode", "--protocol", "hj212", "--crc", "modbus", capture)
    assert decoded.status == 0
    assert json_lines(decoded.stdout)[0]["ok"] is True


def test_decode_nmea_from_standard_input(testdata: Path) -> None:
    lines = (testdata / "nmea" / "public-sentences.txt").read_text().splitlines()
    sentences = "".join(line.split(" =>")[0] + "\r\n" for line in lines if line.startswith("$"))
    done = subprocess.run(
        [FIELDPROOF, "gateway", "decode", "--protocol", "nmea", "-"],
        input=sentences.encode(),
        capture_output=True,
        check=False,
    )
    decoded = json_lines(done.stdout.decode())
    assert done.returncode == 0
    assert decoded[1]["time"] == "1994-11-19T22:54:46Z"
    assert decoded[1]["valid"] is True
    assert decoded[3]["valid"] is False


def test_decode_of_a_missing_file_is_a_clear_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("gateway", "decode", "--protocol", "hj212", tmp_path / "nope.bin")
    assert result.status == 2
    assert "cannot read" in result.stderr


def test_listen_refuses_a_bad_source_before_starting(cli: Cli, tmp_path: Path) -> None:
    result = cli("gateway", "listen", "serial:///dev/ttyUSB0?baud=9600", "--data", tmp_path)
    assert result.status == 2
    assert "protocol=hj212 or protocol=nmea" in result.stderr
    assert not (tmp_path / "spool.sqlite3").exists()


def test_status_without_a_spool_says_where_it_looked(cli: Cli, tmp_path: Path) -> None:
    result = cli("gateway", "status", "--data", tmp_path / "empty")
    assert result.status == 2
    assert "no gateway data" in result.stderr


def _wait_until_opened(process: subprocess.Popen[bytes], path: str) -> None:
    """Until ``process`` holds ``path`` open (Linux: its /proc fd links), however slowly it started."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the listener exited before opening its source"
        fds = Path(f"/proc/{process.pid}/fd")
        try:
            if any(os.readlink(fd) == path for fd in fds.iterdir()):
                return
        except OSError:  # an fd closed while we looked
            pass
        time.sleep(0.05)
    raise AssertionError(f"the listener did not open {path} within 30 s")


def test_listen_then_status_as_a_script_sees_them(tmp_path: Path) -> None:
    monitor = MonitorSimulator(interval=0.05, count=5, exceed=True, seed=3, time_step=timedelta(minutes=1))
    source = f"serial://{monitor.pty.path}?baud=9600&protocol=hj212&units={units_parameter('dust')}"
    listener = subprocess.Popen(
        [
            FIELDPROOF,
            "gateway",
            "listen",
            source,
            "--data",
            str(tmp_path),
            "--visit",
            "V9",
            "--duration",
            "4",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_until_opened(listener, monitor.pty.path)  # frames written before the listener reads would be lost
    threading.Thread(target=monitor.run, args=(threading.Event(),)).start()
    out, err = listener.communicate(timeout=60)
    monitor.pty.close()
    assert listener.returncode == 0, err.decode()
    events = json_lines(out.decode())
    kinds = [e["event"] for e in events]
    assert "exceedance" in kinds
    assert kinds[-1] == "summary"
    sealed = [e for e in events if e["event"] == "sealed"]
    assert [(s["device"], s["frames"], s["visit"]) for s in sealed] == [("LYDUST0042", 5, "V9")]

    status = subprocess.run(
        [FIELDPROOF, "gateway", "status", "--data", str(tmp_path), "--json"], capture_output=True, check=True
    )
    report = json.loads(status.stdout)
    assert report["frames"] == 5
    assert report["readings"] == 15
    assert report["unsealed_frames"] == 0
    assert report["items"][0]["sha256"] == sealed[0]["sha256"]
    assert report["pending_sync"] == 1


def test_simulated_logger_with_no_gateway_says_so(cli: Cli) -> None:
    result = cli("gateway", "simulate", "logger", "--to", "127.0.0.1:9", "--count", "1")
    assert result.status == 2
    assert "cannot reach 127.0.0.1:9" in result.stderr
