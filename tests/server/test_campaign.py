"""The city's campaign view (issue 8): ``GET /campaign``, ``/campaign.csv`` and ``/campaign/report``.

One scene serves every test: LY-YC has a clue (water, with a photo, a verified photo... see ``scene``), a case
whose recommendation was answered, and a back-dated one whose reply period ran out; LY-SX has a case under
investigation and a dismissed clue; the city (LY) has none of its own. Counts are asserted exactly.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.cases import service as cases
from server.cases.deadlines import local_date
from server.cases.schemas import CaseIn
from server.clients.service import create_client
from tests.server.conftest import World
from tests.server.evidence_helpers import enroll_gateway, register
from tests.server.test_cases_support import API, ROUTE, case_at, error_code, in_session, move, new_case, principal_of

URL = f"{API}/campaign"
READINGS = [
    {"device": "LYDUST0042", "code": "a34004", "value": value, "unit": "ug/m3", "flag": "N", "measured_at": at}
    for value, at in ((40.0, "2026-05-12T09:40:00+08:00"), (180.0, "2026-05-12T09:41:00+08:00"))
]
ZERO_STAGES = dict.fromkeys(
    ("clue", "filed", "investigation", "recommendation", "follow-up", "litigation", "enforcement", "closed"), 0
)
ZERO_DOMAINS = dict.fromkeys(("air", "water", "land", "forest", "mineral", "wetland", "wildlife", "other"), 0)
LATE_DAYS = 92  # the back-dated recommendation was issued this many days ago: its 2 months ran out


@dataclass
class Scene:
    today: str  # China time
    late_day: str  # the day (China time) the late case's recommendation was issued
    photo: str


def _late_case(client: TestClient) -> int:
    """A LY-YC administrative case whose recommendation was issued ``LATE_DAYS`` ago (through the services)."""
    entered = datetime.now(UTC) - timedelta(days=LATE_DAYS)
    with in_session(client) as session:
        principal = principal_of(session, "ly-yc-prosecutor")
        data = CaseIn(title="逾期未回复", domain="water", type="administrative")
        case = cases.create_case(session, principal=principal, data=data, now=entered)
        for stage in ROUTE["recommendation"]:
            cases.transition_case(session, principal=principal, case_id=case.id, to=stage, note=None, now=entered)
        return case.id


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    late_day = local_date(datetime.now(UTC) - timedelta(days=LATE_DAYS)).isoformat()
    _late_case(client)
    clue = new_case(client, world, domain="water")
    answered = case_at(client, world, "recommendation", domain="air")
    move(client, world, answered["id"], "follow-up")  # the agency replied: the deadline is met
    gateway = enroll_gateway(client)
    photo = register(client, world, gateway, clue["id"], b"\xff\xd8\xff\xe0" + os.urandom(2_000))["item"]["id"]
    batch = register(
        client,
        world,
        gateway,
        clue["id"],
        b'{"format":"fieldproof.sensor-batch/1"}\n',
        kind="sensor-batch",
        media_type="application/x-ndjson",
        name="sensor-batch.jsonl",
    )["item"]["id"]
    stored = client.post(
        f"{API}/readings", json={"item_id": batch, "readings": READINGS}, headers=world.headers("LY-YC/investigator")
    )
    assert stored.json()["alerts"] == 1, stored.text
    verified = client.post(f"{API}/items/{photo}/verify", headers=world.headers("LY-YC/evidence_officer"))
    assert verified.status_code == 200, verified.text
    sx = "LY-SX/prosecutor"
    investigation = new_case(client, world, who=sx, domain="land", type="civil")
    move(client, world, investigation["id"], "filed", "investigation", who=sx)
    dismissed = new_case(client, world, who=sx, domain="land")
    move(client, world, dismissed["id"], "closed", who=sx)
    return Scene(today=local_date(datetime.now(UTC)).isoformat(), late_day=late_day, photo=photo)


def counts(
    cases_: int = 0, *, domains: dict[str, int] | None = None, stages: dict[str, int] | None = None, **n: int
) -> dict[str, Any]:
    """The expected counts of one unit: zeros but for what is given."""
    scalars = dict.fromkeys(
        (
            "recommendations_issued",
            "recommendations_answered",
            "recommendations_overdue",
            "items_collected",
            "items_verified",
            "exceedances",
        ),
        0,
    )
    return {
        "cases": cases_,
        "by_domain": {**ZERO_DOMAINS, **(domains or {})},
        "by_stage": {**ZERO_STAGES, **(stages or {})},
        "clues_received": cases_,
        **scalars,
        **n,
    }


YC = counts(
    3,
    domains={"water": 2, "air": 1},
    stages={"clue": 1, "recommendation": 1, "follow-up": 1},
    recommendations_issued=2,
    recommendations_answered=1,
    recommendations_overdue=1,
    items_collected=2,
    items_verified=1,
    exceedances=1,
)
SX = counts(2, domains={"land": 2}, stages={"investigation": 1, "closed": 1})
CITY = counts()
NAMES = {"LY": "洛阳市人民检察院", "LY-YC": "伊川县人民检察院", "LY-SX": "嵩县人民检察院"}


def row(code: str, expected: dict[str, Any]) -> dict[str, Any]:
    return {"unit": code, "name": NAMES[code], **expected}


def total(*rows: dict[str, Any]) -> dict[str, Any]:
    summed: dict[str, Any] = counts()
    for one in rows:
        for key, value in one.items():
            if isinstance(value, dict):
                summed[key] = {k: summed[key][k] + v for k, v in value.items()}
            else:
                summed[key] += value
    return summed


def campaign(client: TestClient, world: World, who: str, **params: str) -> dict[str, Any]:
    answer = client.get(URL, params=params, headers=world.headers(who))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_city_sees_every_unit_with_exact_counts(client: TestClient, world: World, scene: Scene) -> None:
    body = campaign(client, world, "LY/prosecutor")
    assert body["filters"] == {"from": None, "to": None, "domain": None, "unit": None}
    assert body["units"] == [row("LY", CITY), row("LY-SX", SX), row("LY-YC", YC)]
    assert body["totals"] == total(CITY, SX, YC)
    assert campaign(client, world, "LY/unit_admin") == body


def test_a_county_and_its_integration_client_see_only_their_unit(
    client: TestClient, world: World, scene: Scene
) -> None:
    assert campaign(client, world, "LY-YC/prosecutor")["units"] == [row("LY-YC", YC)]
    with in_session(client) as session:
        client_id, secret = create_client(
            session, unit_code="LY-SX", name="嵩县办案系统", scopes=frozenset({"cases:read"})
        )
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    issued = client.post(f"{API}/oauth/token", data=form)
    assert issued.status_code == 200, issued.text
    answer = client.get(URL, headers={"Authorization": f"Bearer {issued.json()['access_token']}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["units"] == [row("LY-SX", SX)]
    assert answer.json()["totals"] == SX
    for other in ("LY-YC", "LY", "LY-XX"):  # an unseen unit reads like an unknown one
        refused = client.get(URL, params={"unit": other}, headers=world.headers("LY-SX/prosecutor"))
        assert (refused.status_code, error_code(refused)) == (422, "invalid_unit"), other


@pytest.mark.parametrize("role", ["investigator", "evidence_officer"])
def test_roles_without_campaign_read_are_refused(client: TestClient, world: World, role: str) -> None:
    for path in (URL, f"{URL}.csv", f"{URL}/report"):
        assert client.get(path, headers=world.headers(f"LY/{role}")).status_code == 403


def test_filters_by_unit_domain_and_period(client: TestClient, world: World, scene: Scene) -> None:
    city = "LY/prosecutor"
    assert campaign(client, world, city, unit="LY-SX")["units"] == [row("LY-SX", SX)]
    air = counts(1, domains={"air": 1}, stages={"follow-up": 1}, recommendations_issued=1, recommendations_answered=1)
    assert campaign(client, world, city, domain="air")["units"] == [
        row("LY", CITY),
        row("LY-SX", CITY),
        row("LY-YC", air),
    ]
    # since today: not the back-dated case, its recommendation or its overdue deadline
    recent = counts(
        2,
        domains={"water": 1, "air": 1},
        stages={"clue": 1, "follow-up": 1},
        recommendations_issued=1,
        recommendations_answered=1,
        items_collected=2,
        items_verified=1,
        exceedances=1,
    )
    since_today = campaign(client, world, city, unit="LY-YC", **{"from": scene.today})
    assert since_today["units"] == [row("LY-YC", recent)]
    assert since_today["filters"] == {"from": scene.today, "to": None, "domain": None, "unit": "LY-YC"}
    late = counts(1, domains={"water": 1}, stages={"recommendation": 1}, recommendations_issued=1)
    late["recommendations_overdue"] = 1
    on_the_day = campaign(client, world, city, unit="LY-YC", **{"from": scene.late_day, "to": scene.late_day})
    assert on_the_day["units"] == [row("LY-YC", late)]
    for params, code in (
        ({"from": scene.today, "to": scene.late_day}, "invalid_period"),
        ({"from": "0001-01-01"}, "invalid_period"),
        ({"to": "9999-12-31"}, "invalid_period"),
        ({"from": "yesterday"}, "invalid"),
        ({"domain": "sea"}, "invalid"),
    ):
        answer = client.get(URL, params=params, headers=world.headers(city))
        assert (answer.status_code, error_code(answer)) == (422, code), params


def test_a_strong_etag_and_if_none_match(client: TestClient, world: World, scene: Scene) -> None:
    headers = world.headers("LY/prosecutor")
    first = client.get(URL, headers=headers)
    tag = first.headers["etag"]
    assert tag.startswith('"')
    assert not tag.startswith("W/")
    again = client.get(URL, headers={**headers, "If-None-Match": tag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    assert client.get(URL, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    new_case(client, world, who="LY-SX/prosecutor")
    changed = client.get(URL, headers={**headers, "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


def test_the_csv_opens_in_excel_and_matches_the_json(client: TestClient, world: World, scene: Scene) -> None:
    headers = world.headers("LY/prosecutor")
    body = campaign(client, world, "LY/prosecutor")
    answer = client.get(f"{URL}.csv", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="campaign-all.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    header = [cell.rsplit(" ", 1)[1] for cell in lines[0]]
    assert lines[0][:3] == ["单位代码 unit", "单位名称 name", "案件数 cases"]
    assert "阶段·跟踪问效 stage.follow-up" in lines[0]
    parsed = [dict(zip(header, values, strict=True)) for values in lines[1:]]
    expected = [*body["units"], {"unit": "*", "name": "合计", **body["totals"]}]
    assert len(parsed) == len(expected) == 4
    for got, want in zip(parsed, expected, strict=True):
        assert got["unit"] == want["unit"]
        assert got["name"] == want["name"]
        for key, value in got.items():
            if key.startswith(("domain.", "stage.")):
                group, name = key.split(".", 1)
                assert int(value) == want[f"by_{group}"][name], (want["unit"], key)
            elif key not in ("unit", "name"):
                assert int(value) == want[key], (want["unit"], key)
    filtered = client.get(f"{URL}.csv", params={"unit": "LY-YC", "from": scene.today}, headers=headers)
    assert f'filename="campaign-LY-YC-{scene.today}.csv"' in filtered.headers["content-disposition"]


def test_the_printable_report(client: TestClient, world: World, scene: Scene) -> None:
    headers = world.headers("LY/prosecutor")
    answer = client.get(f"{URL}/report", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "<title>洛阳市人民检察院公益诉讼专项活动统计</title>" in page
    assert "@media print" in page
    for name in NAMES.values():
        assert name in page
    assert page.index("伊川县人民检察院") < page.index("合计")
    county = client.get(f"{URL}/report", params={"unit": "LY-YC"}, headers=headers).text
    assert "<title>伊川县人民检察院公益诉讼专项活动统计</title>" in county
    assert "嵩县" not in county
    pdf = client.get(f"{URL}/report", params={"format": "pdf"}, headers=headers)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
