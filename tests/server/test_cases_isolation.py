"""Unit isolation: a county sees only its own cases, the city sees all; another unit's case (and its sites and
visits) answers exactly like a case that does not exist, so a county user cannot even learn of it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.server.conftest import World
from tests.server.test_cases_support import API, OWNER, SQUARE, case_at, new_case, new_site, visit_body

NO_CASE = 2_000_000_000  # an id no test reaches


def _requests(case_id: int, site_id: int, visit_id: int) -> list[tuple[str, str, Any]]:
    """Every case endpoint, with a body that would succeed for the case's own unit."""
    base = f"{API}/cases/{case_id}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"title": "偷改"}),
        ("GET", f"{base}/transitions", None),
        ("POST", f"{base}/transitions", {"to": "investigation"}),
        ("GET", f"{base}/sites", None),
        ("POST", f"{base}/sites", {"name": "市院补充", "geofence": SQUARE}),
        ("GET", f"{base}/sites/{site_id}", None),
        ("GET", f"{base}/visits", None),
        ("POST", f"{base}/visits", visit_body(site_id)),
        ("GET", f"{base}/visits/{visit_id}", None),
    ]


def _world_with_one_case(client: TestClient, world: World) -> tuple[dict[str, Any], int, int]:
    case = case_at(client, world, "filed")
    site = new_site(client, world, case["id"])
    visit = client.post(f"{API}/cases/{case['id']}/visits", json=visit_body(site["id"]), headers=world.headers(OWNER))
    assert visit.status_code == 201, visit.text
    return case, site["id"], visit.json()["id"]


def test_another_units_case_is_not_found_exactly_like_a_missing_one(client: TestClient, world: World) -> None:
    case, site_id, visit_id = _world_with_one_case(client, world)
    for role in ("prosecutor", "unit_admin", "investigator"):
        headers = world.headers(f"LY-SX/{role}")
        hidden = _requests(case["id"], site_id, visit_id)
        missing = _requests(NO_CASE, site_id, visit_id)
        for (method, url, body), (_m, missing_url, _b) in zip(hidden, missing, strict=True):
            answer = client.request(method, url, json=body, headers=headers)
            absent = client.request(method, missing_url, json=body, headers=headers)
            if answer.status_code == 403:  # a role without the permission learns nothing either
                assert absent.status_code == 403, (role, method, url)
                continue
            assert answer.status_code == 404, (role, method, url, answer.text)
            assert (
                answer.json()
                == absent.json()
                == {"error": {"code": "not_found", "message": "no such case", "details": {}}}
            )
            assert "etag" not in answer.headers
    owner_view = client.get(f"{API}/cases/{case['id']}", headers=world.headers(OWNER)).json()
    assert (owner_view["title"], owner_view["stage"]) == (case["title"], "filed")


def test_the_city_reaches_every_county_case(client: TestClient, world: World) -> None:
    case, site_id, visit_id = _world_with_one_case(client, world)
    headers = world.headers("LY/prosecutor")
    for method, url, body in _requests(case["id"], site_id, visit_id):
        answer = client.request(method, url, json=body, headers=headers)
        assert answer.status_code in (200, 201), (method, url, answer.text)


def test_lists_show_only_visible_cases(client: TestClient, world: World) -> None:
    yc = new_case(client, world)
    sx = new_case(client, world, "LY-SX/prosecutor")
    city = new_case(client, world, "LY/prosecutor")

    def listed(who: str, **params: str) -> list[int]:
        return [c["id"] for c in client.get(f"{API}/cases", params=params, headers=world.headers(who)).json()["items"]]

    assert listed("LY-YC/investigator") == [yc["id"]]
    assert listed("LY-SX/integration") == [sx["id"]]
    assert listed("LY/integration") == [yc["id"], sx["id"], city["id"]]
    assert listed("LY-YC/prosecutor", unit="LY-SX") == []
    assert listed("LY-YC/prosecutor", unit="LY") == []


def test_a_county_cannot_create_in_or_for_another_unit(client: TestClient, world: World) -> None:
    theirs = new_case(client, world, "LY-SX/prosecutor")
    body = {"title": "t", "domain": "air", "type": "civil", "unit": "LY-SX"}
    refused = client.post(f"{API}/cases", json=body, headers=world.headers(OWNER))
    unknown = client.post(f"{API}/cases", json=body | {"unit": "LY-XX"}, headers=world.headers(OWNER))
    assert refused.status_code == unknown.status_code == 422
    assert refused.json()["error"]["code"] == unknown.json()["error"]["code"] == "invalid_unit"
    listed = client.get(f"{API}/cases", headers=world.headers("LY-SX/prosecutor")).json()["items"]
    assert [c["id"] for c in listed] == [theirs["id"]]


def test_a_site_or_visit_of_another_case_is_not_found_under_this_one(client: TestClient, world: World) -> None:
    case, site_id, visit_id = _world_with_one_case(client, world)
    other = new_case(client, world)
    headers = world.headers(OWNER)
    site = client.get(f"{API}/cases/{other['id']}/sites/{site_id}", headers=headers)
    visit = client.get(f"{API}/cases/{other['id']}/visits/{visit_id}", headers=headers)
    assert (site.status_code, site.json()["error"]["message"]) == (404, "no such site")
    assert (visit.status_code, visit.json()["error"]["message"]) == (404, "no such visit")
    assert client.get(f"{API}/cases/{case['id']}/sites/{site_id}", headers=headers).status_code == 200
