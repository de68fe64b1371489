"""Cases through the API: creation and numbering, lists and filters, ETag/If-Match, idempotent creation, and
bad input that must end in a 4xx (never a 500)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.cases import service
from server.cases.schemas import CaseIn
from server.db import transaction
from tests.server.conftest import World
from tests.server.test_cases_support import API, OWNER, error_code, in_session, move, new_case, principal_of

CASE_KEYS = {
    "id",
    "number",
    "title",
    "description",
    "domain",
    "type",
    "urgent",
    "stage",
    "next_stages",
    "unit",
    "created_at",
    "created_by",
    "deadlines",
    "limits",
    "auto_clue",
}


def test_a_new_case_is_a_clue_of_the_creators_unit(client: TestClient, world: World) -> None:
    answer = client.post(
        f"{API}/cases",
        json={
            "title": " 黄河滩区非法采砂 ",
            "domain": "mineral",
            "type": "civil",
            "description": "举报",
            "urgent": True,
        },
        headers=world.headers(OWNER),
    )
    assert answer.status_code == 201
    case = answer.json()
    assert set(case) == CASE_KEYS
    assert (case["title"], case["domain"], case["type"], case["urgent"]) == (
        "黄河滩区非法采砂",
        "mineral",
        "civil",
        True,
    )
    assert (case["stage"], case["next_stages"], case["deadlines"]) == ("clue", ["filed", "closed"], [])
    assert (case["unit"], case["created_by"], case["description"]) == ("LY-YC", "ly-yc-prosecutor", "举报")
    assert re.fullmatch(r"LY-YC-20\d\d-0001", case["number"])
    assert client.get(f"{API}/cases/{case['id']}", headers=world.headers(OWNER)).json() == case


def test_a_city_user_may_open_a_case_for_a_county_but_not_the_reverse(client: TestClient, world: World) -> None:
    city = new_case(client, world, "LY/unit_admin", unit="LY-SX")
    assert city["unit"] == "LY-SX"
    assert city["number"].startswith("LY-SX-")
    assert new_case(client, world, "LY/prosecutor")["unit"] == "LY"
    for unit in ("LY", "LY-SX", "NO-SUCH"):
        body = {"title": "t", "domain": "air", "type": "civil", "unit": unit}
        answer = client.post(f"{API}/cases", json=body, headers=world.headers(OWNER))
        assert (answer.status_code, error_code(answer)) == (422, "invalid_unit"), unit
        assert answer.json()["error"]["message"] == f"unit {unit} is not one you may create cases for"


def test_numbers_count_per_unit_and_year(client: TestClient, world: World) -> None:
    numbers = [new_case(client, world, who)["number"] for who in [OWNER, OWNER, "LY-SX/prosecutor", OWNER]]
    year = numbers[0].split("-")[2]
    assert numbers == [f"LY-YC-{year}-0001", f"LY-YC-{year}-0002", f"LY-SX-{year}-0001", f"LY-YC-{year}-0003"]
    with in_session(client) as session:
        principal = principal_of(session, "ly-yc-prosecutor")
        data = CaseIn(title="t", domain="air", type="civil")
        late_in_2030 = datetime(2030, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 in China
        early_in_2031 = datetime(2030, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on Jan 1 in China
        made = [
            service.create_case(session, principal=principal, data=data, now=now).number
            for now in (late_in_2030, early_in_2031, early_in_2031)
        ]
    assert made == ["LY-YC-2030-0001", "LY-YC-2031-0001", "LY-YC-2031-0002"]


def test_concurrent_creations_get_distinct_consecutive_numbers(client: TestClient, world: World) -> None:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    now, numbers, errors = datetime(2032, 5, 1, tzinfo=UTC), [], []

    def create() -> None:
        try:
            with transaction(factory) as session:
                principal = principal_of(session, "ly-sx-prosecutor")
                data = CaseIn(title="t", domain="air", type="civil")
                numbers.append(service.create_case(session, principal=principal, data=data, now=now).number)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [f"LY-SX-2032-{n:04d}" for n in range(1, 7)]


def test_lists_filter_by_stage_domain_type_and_unit(client: TestClient, world: World) -> None:
    water = new_case(client, world, domain="water")
    air = new_case(client, world, domain="air", type="civil")
    county = new_case(client, world, "LY-SX/prosecutor", domain="forest")
    client.post(f"{API}/cases/{air['id']}/transitions", json={"to": "filed"}, headers=world.headers(OWNER))

    def ids(who: str, **params: str) -> list[int]:
        answer = client.get(f"{API}/cases", params=params, headers=world.headers(who))
        assert answer.status_code == 200, answer.text
        return [case["id"] for case in answer.json()["items"]]

    assert ids("LY/investigator") == [water["id"], air["id"], county["id"]]
    assert ids("LY/investigator", stage="filed") == [air["id"]]
    assert ids("LY/investigator", domain="forest") == [county["id"]]
    assert ids("LY/investigator", type="administrative") == [water["id"], county["id"]]
    assert ids("LY/investigator", unit="LY-YC", stage="clue") == [water["id"]]
    assert ids("LY/investigator", unit="LY") == []
    assert ids("LY-SX/integration") == [county["id"]]


def test_lists_page_with_cursors(client: TestClient, world: World) -> None:
    made = [new_case(client, world)["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{API}/cases", params=params, headers=world.headers(OWNER)).json()
        seen += [case["id"] for case in page["items"]]
        if (cursor := page["next"]) is None:
            break
    assert seen == made


def test_patch_with_a_stale_etag_is_412_and_with_the_current_one_succeeds(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    url, headers = f"{API}/cases/{case['id']}", world.headers(OWNER)
    etag = client.get(url, headers=headers).headers["etag"]
    first = client.patch(url, json={"title": "改了", "urgent": True}, headers=headers | {"If-Match": etag})
    assert first.status_code == 200
    assert first.json()["title"] == "改了"
    assert first.json()["urgent"] is True
    assert first.headers["etag"] != etag
    stale = client.patch(url, json={"title": "又改"}, headers=headers | {"If-Match": etag})
    assert (stale.status_code, error_code(stale)) == (412, "precondition_failed")
    assert stale.json()["error"]["details"]["current_etag"] == first.headers["etag"]
    assert client.get(url, headers=headers).json()["title"] == "改了"
    assert client.get(url, headers=headers).headers["etag"] == first.headers["etag"]
    changes = {"description": None, "domain": "wetland"}
    assert client.patch(url, json=changes, headers=headers | {"If-Match": "*"}).status_code == 200
    assert client.patch(url, json={"title": "无条件"}, headers=headers).json()["title"] == "无条件"


def test_a_closed_case_cannot_be_edited(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    move(client, world, case["id"], "closed")
    url = f"{API}/cases/{case['id']}"
    answer = client.patch(url, json={"title": "关了还改"}, headers=world.headers(OWNER))
    assert (answer.status_code, error_code(answer)) == (409, "case_closed")
    assert client.get(url, headers=world.headers(OWNER)).json()["title"] == case["title"]


REFUSED_CHANGES: list[dict[str, Any]] = [
    {"stage": "closed"},
    {"type": "civil"},
    {"number": "X"},
    {"title": None},
    {"urgent": None},
    {"title": ""},
    {"domain": "space"},
    {"unit": "LY-SX"},
    {"title": "nul\x00"},
]


def test_patch_refuses_what_it_may_not_change(client: TestClient, world: World) -> None:
    case = new_case(client, world)
    for changes in REFUSED_CHANGES:
        answer = client.patch(f"{API}/cases/{case['id']}", json=changes, headers=world.headers(OWNER))
        assert answer.status_code == 422, (changes, answer.text)
    assert client.get(f"{API}/cases/{case['id']}", headers=world.headers(OWNER)).json() == case


def test_the_same_idempotency_key_gives_the_same_case_once(client: TestClient, world: World) -> None:
    body = {"title": "尾矿库渗漏", "domain": "water", "type": "administrative"}
    headers = world.headers(OWNER) | {"Idempotency-Key": "create-0001"}
    first = client.post(f"{API}/cases", json=body, headers=headers)
    again = client.post(f"{API}/cases", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post(f"{API}/cases", json=body | {"title": "另一个"}, headers=headers)
    assert (other.status_code, error_code(other)) == (409, "conflict")
    by_another_user = client.post(
        f"{API}/cases", json=body, headers=world.headers("LY-YC/unit_admin") | {"Idempotency-Key": "create-0001"}
    )
    assert by_another_user.json()["id"] != first.json()["id"]
    listed = client.get(f"{API}/cases", headers=world.headers(OWNER)).json()["items"]
    assert [case["id"] for case in listed] == [first.json()["id"], by_another_user.json()["id"]]


BAD_BODIES: list[Any] = [
    {},
    {"title": "t"},
    {"title": "t", "domain": "air"},
    {"title": "", "domain": "air", "type": "civil"},
    {"title": "t", "domain": "sky", "type": "civil"},
    {"title": "t", "domain": "air", "type": "criminal"},
    {"title": "t" * 301, "domain": "air", "type": "civil"},
    {"title": 5, "domain": "air", "type": "civil"},
    {"title": "t", "domain": "air", "type": "civil", "stage": "filed"},
    [],
    "case",
    None,
    {"title": "t", "domain": "air", "type": "civil", "unit": ""},
    {"title": "t", "domain": ["air"], "type": "civil"},
]


def test_bad_input_is_a_4xx_never_a_500(client: TestClient, world: World) -> None:
    headers = world.headers(OWNER)
    for body in BAD_BODIES:
        answer = client.post(f"{API}/cases", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
    raw = client.post(f"{API}/cases", content=b"{not json", headers=headers | {"Content-Type": "application/json"})
    assert raw.status_code == 422
    for path in ["/cases/0", "/cases/-1", "/cases/abc", "/cases/99999999999999999999", "/cases/1.5"]:
        assert client.get(f"{API}{path}", headers=headers).status_code == 422, path
    assert client.get(f"{API}/cases/2147483647", headers=headers).status_code == 404
    bad_params: list[dict[str, Any]] = [
        {"stage": "done"},
        {"domain": "x"},
        {"type": "x"},
        {"limit": 0},
        {"limit": 501},
        {"cursor": "!"},
        {"unit": "U" * 65},
        {"unit": "LY\x00"},
    ]
    for params in bad_params:
        assert client.get(f"{API}/cases", params=params, headers=headers).status_code in (400, 422), params
    valid = {"title": "t", "domain": "air", "type": "civil"}
    for key in ("", "k" * 201):
        answer = client.post(f"{API}/cases", json=valid, headers=headers | {"Idempotency-Key": key})
        assert answer.status_code == 400, key
    assert client.get(f"{API}/cases", headers=headers).json()["items"] == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "title": JSON | st.text(max_size=400),
        "domain": JSON | st.sampled_from(["air", "water"]),
        "type": JSON | st.sampled_from(["civil", "administrative"]),
        "urgent": JSON,
        "description": JSON,
        "unit": JSON | st.sampled_from(["LY", "LY-YC", "LY-SX"]),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS | JSON)
def test_no_request_body_makes_case_creation_fail_with_a_500(client: TestClient, world: World, body: Any) -> None:
    answer = client.post(f"{API}/cases", json=body, headers=world.headers("LY/prosecutor"))
    assert answer.status_code in (201, 422), answer.text
