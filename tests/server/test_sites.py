"""Sites through the API: a case's places, fenced by GeoJSON polygons; unusable fences refused (422) with
shapely's reason; idempotent creation; nothing added to a closed case."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.server.conftest import World
from tests.server.test_cases_support import API, OWNER, SQUARE, case_at, error_code, new_case, new_site
from tests.server.test_sites_geo import INVALID

SITE_KEYS = {
    "id",
    "case",
    "name",
    "address",
    "description",
    "geofence",
    "centroid",
    "area_m2",
    "created_at",
    "created_by",
}


def test_a_site_is_added_listed_and_read(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url = f"{API}/cases/{case['id']}/sites"
    body = {"name": " 1号排污口 ", "address": "伊川县白沙镇", "description": "雨水管混接", "geofence": SQUARE}
    answer = client.post(url, json=body, headers=world.headers("LY-YC/investigator"))
    assert answer.status_code == 201, answer.text
    site = answer.json()
    assert set(site) == SITE_KEYS
    assert (site["case"], site["name"], site["address"], site["created_by"]) == (
        case["id"],
        "1号排污口",
        "伊川县白沙镇",
        "ly-yc-investigator",
    )
    assert site["geofence"] == SQUARE
    assert site["centroid"] == {"lat": site["centroid"]["lat"], "lon": site["centroid"]["lon"]}
    assert (round(site["centroid"]["lat"], 6), round(site["centroid"]["lon"], 6)) == (34.005, 112.005)
    assert 1.0e6 < site["area_m2"] < 1.05e6
    second = new_site(client, world, case["id"])
    listed = client.get(url, headers=world.headers("LY/integration")).json()
    assert [s["id"] for s in listed["items"]] == [site["id"], second["id"]]
    assert client.get(f"{url}/{site['id']}", headers=world.headers("LY-YC/integration")).json() == site
    assert client.get(f"{url}/{second['id'] + 100}", headers=world.headers(OWNER)).status_code == 404


def test_unusable_geofences_are_refused_with_shapelys_reason(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url, headers = f"{API}/cases/{case['id']}/sites", world.headers(OWNER)
    for name, geofence, reason in INVALID:
        if name in ("NaN", "too many"):
            continue  # not JSON / tested without the API
        answer = client.post(url, json={"name": name, "geofence": geofence}, headers=headers)
        if not isinstance(geofence, dict):
            assert answer.status_code == 422, name  # refused by the schema: not an object
            continue
        assert (answer.status_code, error_code(answer)) == (422, "invalid_geofence"), (name, answer.text)
        error = answer.json()["error"]
        assert reason in error["details"]["reason"], name
        assert error["message"] == f"the geofence is refused: {error['details']['reason']}"
    assert client.get(url, headers=headers).json()["items"] == []


def test_the_self_intersection_reason_is_shapelys(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    bowtie = {"type": "Polygon", "coordinates": [[[112, 34], [112.01, 34.01], [112.01, 34], [112, 34.01], [112, 34]]]}
    answer = client.post(
        f"{API}/cases/{case['id']}/sites", json={"name": "x", "geofence": bowtie}, headers=world.headers(OWNER)
    )
    assert answer.json()["error"]["details"] == {"reason": "not a valid polygon: Self-intersection[112.005 34.005]"}


def test_bad_site_requests_are_4xx(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url, headers = f"{API}/cases/{case['id']}/sites", world.headers(OWNER)
    bad: list[Any] = [
        {},
        {"name": "x"},
        {"geofence": SQUARE},
        {"name": "", "geofence": SQUARE},
        {"name": "x", "geofence": SQUARE, "case": 3},
        {"name": "x" * 201, "geofence": SQUARE},
        {"name": "x", "geofence": "POLYGON((0 0, 1 0, 1 1, 0 0))"},
        {"name": "x", "geofence": None},
    ]
    for body in bad:
        assert client.post(url, json=body, headers=headers).status_code == 422, body
    nan = b'{"name": "x", "geofence": {"type": "Polygon", "coordinates": [[[NaN, 0], [1, 0], [1, 1], [NaN, 0]]]}}'
    answer = client.post(url, content=nan, headers=headers | {"Content-Type": "application/json"})
    assert answer.status_code == 422
    missing_case = client.post(f"{API}/cases/{case['id'] + 1000}/sites", json=bad[2] | {"name": "x"}, headers=headers)
    assert missing_case.status_code == 404


def test_site_creation_is_idempotent(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url, headers = f"{API}/cases/{case['id']}/sites", world.headers(OWNER) | {"Idempotency-Key": "site-1"}
    first = client.post(url, json={"name": "a", "geofence": SQUARE}, headers=headers)
    again = client.post(url, json={"name": "a", "geofence": SQUARE}, headers=headers)
    changed = client.post(url, json={"name": "b", "geofence": SQUARE}, headers=headers)
    assert (first.status_code, again.status_code, changed.status_code) == (201, 201, 409)
    assert again.json() == first.json()
    assert len(client.get(url, headers=headers).json()["items"]) == 1


def test_a_closed_case_takes_no_new_site(client: TestClient, world: World) -> None:
    case = case_at(client, world, "closed")
    answer = client.post(
        f"{API}/cases/{case['id']}/sites", json={"name": "x", "geofence": SQUARE}, headers=world.headers(OWNER)
    )
    assert (answer.status_code, error_code(answer)) == (409, "case_closed")
