"""Court packages from the server verify offline; readings are stored once and raise alerts over limits."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from server.config import Settings
from tests.server.conftest import World
from tests.server.evidence_helpers import create_case, create_site, enroll_gateway, register, register_sensor_batch

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(20_000)
FIELDPROOF = str(Path(sys.executable).with_name("fieldproof"))


def test_a_case_package_verifies_offline_with_the_server_key(
    client: TestClient, world: World, settings: Settings, tmp_path: Path
) -> None:
    case = create_case(client, world)
    create_site(client, world, case["id"])
    gateway = enroll_gateway(client)
    for n in range(3):
        register(client, world, gateway, case["id"], PHOTO + bytes([n]))
    answer = client.get(f"/api/v1/cases/{case['id']}/package", headers=world.headers("LY-YC/evidence_officer"))
    assert answer.status_code == 200, answer.text
    package = tmp_path / "case.zip"
    package.write_bytes(answer.content)
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
    assert any(name.endswith("/report.pdf") for name in names)
    assert any(name.endswith("/report.html") for name in names)
    trust = settings.key_path.with_name("server.key.pub")
    done = subprocess.run(
        [FIELDPROOF, "verify", str(package), "--trust", str(trust), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"items": 3' in done.stdout
    custody = client.get(f"/api/v1/cases/{case['id']}/items", headers=world.headers("LY-YC/prosecutor")).json()
    first = custody["items"][0]["id"]
    events = client.get(f"/api/v1/items/{first}/custody", headers=world.headers("LY-YC/prosecutor")).json()
    assert events[-1]["event"]["action"] == "exported", "the export is itself recorded in custody"


def test_readings_are_stored_once_and_raise_alerts(client: TestClient, world: World) -> None:
    case = create_case(client, world, domain="air")
    item_id = register_sensor_batch(client, world, case["id"])
    readings = [
        {
            "device": "LYDUST0042",
            "code": "a34004",
            "value": value,
            "unit": "ug/m3",
            "flag": "N",
            "measured_at": f"2026-05-12T09:4{n}:00+08:00",
        }
        for n, value in enumerate([40.0, 180.0, 60.0])
    ]
    headers = world.headers("LY-YC/investigator")
    first = client.post("/api/v1/readings", json={"item_id": item_id, "readings": readings}, headers=headers).json()
    again = client.post("/api/v1/readings", json={"item_id": item_id, "readings": readings}, headers=headers).json()
    assert first == {"stored": 3, "duplicates": 0, "alerts": 1}
    assert again == {"stored": 0, "duplicates": 3, "alerts": 0}
    listed = client.get(f"/api/v1/cases/{case['id']}/readings?code=a34004", headers=headers).json()
    assert [r["value"] for r in listed["items"]] == [40.0, 180.0, 60.0]
    alerts = client.get(f"/api/v1/cases/{case['id']}/alerts", headers=headers).json()["items"]
    assert len(alerts) == 1
    assert alerts[0]["standard"] == "GB 3095-2012"
    assert alerts[0]["indicative"] is True
    assert "GB 3095-2012" in alerts[0]["message_zh"]


def test_readings_need_a_sensor_batch_item(client: TestClient, world: World) -> None:
    case = create_case(client, world)
    photo = register(client, world, enroll_gateway(client), case["id"], PHOTO)["item"]
    body = {
        "item_id": photo["id"],
        "readings": [{"device": "X", "code": "a34004", "value": 1.0, "measured_at": "2026-05-12T09:00:00+08:00"}],
    }
    answer = client.post("/api/v1/readings", json=body, headers=world.headers("LY-YC/investigator"))
    assert answer.status_code == 422
    assert "sensor-batch" in answer.json()["error"]["message"]
