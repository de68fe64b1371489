"""Unit isolation of the evidence: another county's items, readings, alerts, verification and court package answer
exactly like ones that do not exist (404, the same body), and asking leaves no trace; another county's devices are
not listed. The requests are the role matrix's own rows (``test_roles``), for every endpoint of the items, readings,
alerts and reports routers; ``test_cases_isolation`` covers the case, site and visit endpoints."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from server.alerts.routes import router as alerts_router
from server.items.routes import router as items_router
from server.readings.routes import router as readings_router
from server.reports.routes import router as reports_router
from tests.server.conftest import ROLES, World
from tests.server.evidence_helpers import enroll_gateway
from tests.server.test_cases_support import API
from tests.server.test_roles import ENDPOINTS, Scene, build_scene

NO_CASE = 2_000_000_000  # an id no test reaches
NO_ITEM = "no-such-item"
EVIDENCE_ROUTES = {
    (method, route.path)
    for router in (items_router, readings_router, alerts_router, reports_router)
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}
EVIDENCE = [endpoint for endpoint in ENDPOINTS if (endpoint.method, endpoint.route) in EVIDENCE_ROUTES]


def test_every_evidence_route_is_asked_about() -> None:
    assert {(e.method, e.route) for e in EVIDENCE} == EVIDENCE_ROUTES
    assert len(EVIDENCE) == 12


def _trace(scene: Scene) -> dict[str, Any]:
    """What a request about the case could leave behind: log entries, custody events, items, readings, alerts."""
    headers = scene.world.headers("LY-YC/prosecutor")

    def get(path: str) -> Any:
        answer = scene.client.get(API + path, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return {
        "log": get("/log/checkpoint?format=json")["size"],
        "custody": len(get(f"/items/{scene.item}/custody")),
        "items": [item["id"] for item in get(f"/cases/{scene.case}/items")["items"]],
        "readings": len(get(f"/cases/{scene.case}/readings")["items"]),
        "alerts": len(get(f"/cases/{scene.case}/alerts")["items"]),
    }


def test_another_countys_evidence_is_not_found_exactly_like_missing_evidence(client: TestClient, world: World) -> None:
    scene = build_scene(client, world)  # LY-YC's
    missing = replace(scene, case=NO_CASE, item=NO_ITEM, batch=NO_ITEM)
    before = _trace(scene)
    wrong: list[str] = []
    for role in ROLES:
        who = f"LY-SX/{role}"
        for endpoint in EVIDENCE:
            hidden = endpoint.ask(replace(scene, caller=who), world.headers(who))
            absent = endpoint.ask(replace(missing, caller=who), world.headers(who))
            expected = 404 if endpoint.allows(role) else 403  # a role without the permission learns nothing either
            where = f"{who} {endpoint.method} {endpoint.route}"
            if (hidden.status_code, absent.status_code) != (expected, expected):
                wrong.append(f"{where}: {hidden.status_code} {hidden.text[:200]} / missing: {absent.status_code}")
            elif hidden.json() != absent.json():
                wrong.append(f"{where}: {hidden.json()} != {absent.json()} (missing)")
            elif expected == 404 and hidden.json()["error"]["message"] not in ("no such case", "no such item"):
                wrong.append(f"{where}: {hidden.json()}")
            if "etag" in hidden.headers or "x-content-sha256" in hidden.headers:
                wrong.append(f"{where}: answered with {dict(hidden.headers)}")
    assert not wrong, "\n".join(wrong)
    assert _trace(scene) == before, "asking about another county's evidence left a trace"


def test_the_city_and_the_county_reach_the_countys_evidence(client: TestClient, world: World) -> None:
    scene = build_scene(client, world)
    for unit in ("LY-YC", "LY"):
        headers = world.headers(f"{unit}/prosecutor")
        items = client.get(f"{API}/cases/{scene.case}/items", headers=headers).json()["items"]
        assert {item["id"] for item in items} == {scene.item, scene.batch}
        assert len(client.get(f"{API}/cases/{scene.case}/readings", headers=headers).json()["items"]) == 2
        assert len(client.get(f"{API}/cases/{scene.case}/alerts", headers=headers).json()["items"]) == 1
        assert client.get(f"{API}/items/{scene.item}", headers=headers).json()["case_id"] == scene.case


def test_a_unit_lists_the_devices_of_the_units_it_sees_only(client: TestClient, world: World) -> None:
    yc = enroll_gateway(client, "LY-YC").device_id
    sx = enroll_gateway(client, "LY-SX").device_id

    def listed(who: str) -> list[int]:
        answer = client.get(f"{API}/devices", headers=world.headers(who))
        assert answer.status_code == 200, answer.text
        return [device["id"] for device in answer.json()["items"]]

    for role in ROLES:
        assert listed(f"LY-YC/{role}") == [yc]
        assert listed(f"LY-SX/{role}") == [sx]
        assert listed(f"LY/{role}") == [yc, sx]
