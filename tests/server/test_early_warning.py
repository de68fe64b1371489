"""Automatic early warning (issue 8): the case's choice of grades, one alert per exceedance episode, automatic clues
with the readings attached as verifiable evidence, and the ``alert.raised`` event. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.alerts import service as alerts_service
from tests.server.conftest import World
from tests.server.evidence_helpers import create_case, register_sensor_batch

API = "/api/v1"
INVESTIGATOR = "LY-YC/investigator"  # stores the readings
PROSECUTOR = "LY-YC/prosecutor"
T0 = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)
PM25 = "a34004"  # GB 3095-2012 24-hour limit: 35 µg/m³ (grade I), 75 µg/m³ (grade II, the default)
TWO_EPISODES = [40.0, 180.0, 190.0, 40.0, 200.0, 210.0, 50.0]  # every 10 minutes: over, over / over, over


def reading(minutes: int, value: float, **fields: Any) -> dict[str, Any]:
    return {
        "device": "LYDUST0042",
        "code": PM25,
        "value": value,
        "unit": "ug/m3",
        "flag": "N",
        "measured_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "position": {"lat": 34.6197, "lon": 112.454, "source": "device-gnss"},
        **fields,
    }


def every_ten_minutes(values: list[float], start: int = 0) -> list[dict[str, Any]]:
    return [reading(start + 10 * n, value) for n, value in enumerate(values)]


def send(client: TestClient, world: World, item_id: str, readings: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post(
        f"{API}/readings", json={"item_id": item_id, "readings": readings}, headers=world.headers(INVESTIGATOR)
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def alerts_of(client: TestClient, world: World, case_id: int, who: str = PROSECUTOR) -> list[dict[str, Any]]:
    answer = client.get(f"{API}/cases/{case_id}/alerts", headers=world.headers(who))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def monitoring(client: TestClient, world: World, **fields: Any) -> tuple[int, str]:
    case = create_case(client, world, domain="air", **fields)
    return case["id"], register_sensor_batch(client, world, case["id"])


def test_an_in_order_stream_raises_one_alert_per_episode_and_a_resent_batch_none(
    client: TestClient, world: World
) -> None:
    case_id, item_id = monitoring(client, world)
    readings = every_ten_minutes(TWO_EPISODES)
    raised = [send(client, world, item_id, [one])["alerts"] for one in readings]
    assert raised == [0, 1, 0, 0, 1, 0, 0]
    assert send(client, world, item_id, readings) == {"stored": 0, "duplicates": 7, "alerts": 0}
    alerts = alerts_of(client, world, case_id)
    assert len(alerts) == 2
    first, second = alerts
    assert (first["started_at"], first["episode_readings"], first["value"]) == (readings[1]["measured_at"], 1, 180.0)
    assert second["started_at"] == readings[4]["measured_at"]
    assert {a["standard"] for a in alerts} == {"GB 3095-2012"}
    assert {(a["grade"], a["averaging"], a["device"], a["code"]) for a in alerts} == {("II", "24h", "LYDUST0042", PM25)}
    assert all(a["indicative"] and a["clue_case_id"] is None for a in alerts)


def test_one_batch_in_any_order_raises_one_alert_per_episode(client: TestClient, world: World) -> None:
    case_id, item_id = monitoring(client, world)
    readings = every_ten_minutes(TWO_EPISODES)
    random.Random(8).shuffle(readings)
    assert send(client, world, item_id, readings) == {"stored": 7, "duplicates": 0, "alerts": 2}
    alerts = alerts_of(client, world, case_id)
    assert [(a["episode_readings"], a["value"]) for a in alerts] == [(2, 190.0), (2, 210.0)]
    assert [a["last_at"] for a in alerts] == [reading(20, 0)["measured_at"], reading(50, 0)["measured_at"]]
    assert send(client, world, item_id, readings)["alerts"] == 0


def test_a_silence_longer_than_an_hour_starts_a_new_episode(client: TestClient, world: World) -> None:
    case_id, item_id = monitoring(client, world)
    readings = [reading(0, 180.0), reading(60, 180.0), reading(121, 180.0)]  # 60 min: same; 61 min: new
    assert send(client, world, item_id, readings)["alerts"] == 2
    assert [a["episode_readings"] for a in alerts_of(client, world, case_id)] == [2, 1]


def test_late_readings_extend_split_and_join_episodes(client: TestClient, world: World) -> None:
    case_id, item_id = monitoring(client, world)
    assert send(client, world, item_id, every_ten_minutes([180.0, 180.0, 180.0, 180.0]))["alerts"] == 1
    assert send(client, world, item_id, [reading(-10, 190.0)])["alerts"] == 0, "an earlier reading extends it"
    assert send(client, world, item_id, [reading(15, 40.0)])["alerts"] == 1, "the part after the split is new"
    assert send(client, world, item_id, [reading(100, 180.0), reading(200, 180.0)])["alerts"] == 2
    assert send(client, world, item_id, [reading(150, 180.0)])["alerts"] == 0, "joining two episodes raises nothing"
    alerts = alerts_of(client, world, case_id)
    assert [a["started_at"] for a in alerts] == [reading(m, 0)["measured_at"] for m in (0, 20, 100, 200)]


def test_readings_not_compared_neither_extend_nor_end_an_episode(client: TestClient, world: World) -> None:
    case_id, item_id = monitoring(client, world)
    readings = [reading(0, 180.0), reading(10, 20.0, flag="D"), reading(20, 180.0), reading(30, 20.0, unit=None)]
    assert send(client, world, item_id, readings)["alerts"] == 1
    assert alerts_of(client, world, case_id)[0]["episode_readings"] == 2


@pytest.mark.parametrize(("grade", "expected"), [(None, 0), ("I", 1), ("一级", 1), ("II", 0)])
def test_the_case_grade_decides_what_exceeds(
    client: TestClient, world: World, grade: str | None, expected: int
) -> None:
    limits = [] if grade is None else [{"standard": "gb 3095", "grade": grade}]
    case_id, item_id = monitoring(client, world, limits=limits)
    assert send(client, world, item_id, [reading(0, 50.0)])["alerts"] == expected
    if expected:
        (alert,) = alerts_of(client, world, case_id)
        assert (alert["standard"], alert["grade"], alert["limit"]["value"]) == ("GB 3095-2012", "I", 35.0)


def test_limits_are_validated_shown_and_changed_with_if_match(client: TestClient, world: World) -> None:
    headers = world.headers(PROSECUTOR)
    case = create_case(client, world, domain="air", limits=[{"standard": "GB3095-2012", "grade": "Ⅰ"}])
    assert (case["limits"], case["auto_clue"]) == ([{"standard": "GB 3095-2012", "grade": "I"}], False)
    for limits, words in [
        ([{"standard": "GB 9999", "grade": "I"}], "no limit table for standard"),
        ([{"standard": "GB 3095-2012", "grade": "VII"}], "has no grade"),
        ([{"standard": "GB 3095-2012", "grade": "I"}, {"standard": "gb 3095", "grade": "II"}], "one grade per"),
    ]:
        body = {"title": "t", "domain": "air", "type": "administrative", "limits": limits}
        refused = client.post(f"{API}/cases", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert words in refused.text
    url = f"{API}/cases/{case['id']}"
    etag = client.get(url, headers=headers).headers["etag"]
    change = {"limits": [{"standard": "GB 3838-2002", "grade": "III-lake"}], "auto_clue": True}
    changed = client.patch(url, json=change, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["limits"], changed.json()["auto_clue"]) == (change["limits"], True)
    stale = client.patch(url, json={"auto_clue": False}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert client.patch(url, json={"limits": None}, headers=headers).status_code == 422


def test_auto_clue_opens_a_clue_per_episode_with_the_readings_as_verifiable_evidence(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[int, str, dict[str, Any]]] = []

    def record(session: object, *, unit_id: int, event_type: str, data: dict[str, Any]) -> None:
        events.append((unit_id, event_type, data))

    monkeypatch.setattr(alerts_service, "emit", record)
    case_id, item_id = monitoring(client, world, auto_clue=True)
    readings = every_ten_minutes(TWO_EPISODES)
    assert send(client, world, item_id, readings)["alerts"] == 2
    assert send(client, world, item_id, readings)["alerts"] == 0
    alerts = alerts_of(client, world, case_id)
    clue_cases = [a["clue_case_id"] for a in alerts]
    assert len(set(clue_cases)) == 2
    assert case_id not in clue_cases
    assert [(e[1], e[2]["alert_id"], e[2]["clue_case_id"]) for e in events] == [
        ("alert.raised", a["id"], a["clue_case_id"]) for a in alerts
    ]
    headers = world.headers(PROSECUTOR)
    for alert, episode in zip(alerts, (readings[1:3], readings[4:6]), strict=True):
        clue = client.get(f"{API}/cases/{alert['clue_case_id']}", headers=headers).json()
        assert clue["stage"] == "clue"
        assert "GB 3095-2012" in clue["title"]
        peak = f"最高值 {max(r['value'] for r in episode):g} µg/m³"
        for words in ("二级", "24小时平均", "限值 75 µg/m³", peak, "指示性预警，非法定监测结论"):
            assert words in clue["description"], (words, clue["description"])
        items = client.get(f"{API}/cases/{alert['clue_case_id']}/items", headers=headers).json()["items"]
        assert [(i["id"], i["kind"], i["media_type"]) for i in items] == [
            (f"alert-{alert['id']}-readings", "document", "application/json")
        ]
        content = client.get(f"{API}/items/{items[0]['id']}/content", headers=headers)
        document = json.loads(content.content)
        assert [(r["value"], r["unit"], r["flag"], r["device"]) for r in document["readings"]] == [
            (r["value"], r["unit"], r["flag"], r["device"]) for r in episode
        ]
        assert {r["source_item"] for r in document["readings"]} == {item_id}
        assert all(r["source_sha256"] and r["position"]["lat"] == 34.6197 for r in document["readings"])
        verified = client.post(f"{API}/items/{items[0]['id']}/verify", headers=headers)
        assert verified.status_code == 200, verified.text
        assert verified.json()["valid"] is True, verified.text
        custody = client.get(f"{API}/items/{items[0]['id']}/custody", headers=headers).json()
        assert custody[0]["event"]["action"] == "received"


def test_alerts_are_not_visible_to_another_unit(client: TestClient, world: World) -> None:
    case_id, item_id = monitoring(client, world)
    send(client, world, item_id, every_ten_minutes(TWO_EPISODES))
    for who in ("LY-SX/prosecutor", "LY-SX/investigator"):
        headers = world.headers(who)
        assert client.get(f"{API}/cases/{case_id}/alerts", headers=headers).status_code == 404
        assert client.get(f"{API}/alerts?case={case_id}", headers=headers).status_code == 404
        assert client.get(f"{API}/alerts", headers=headers).json()["items"] == []
    for who in ("LY-YC/investigator", "LY/prosecutor"):
        listed = client.get(f"{API}/alerts", params={"code": PM25, "unit": "LY-YC"}, headers=world.headers(who))
        assert [a["case_id"] for a in listed.json()["items"]] == [case_id, case_id]
    page = client.get(f"{API}/alerts?limit=1", headers=world.headers(PROSECUTOR)).json()
    rest = client.get(f"{API}/alerts?limit=1&cursor={page['next']}", headers=world.headers(PROSECUTOR)).json()
    assert len(page["items"]) == len(rest["items"]) == 1
    assert rest["next"] is None
