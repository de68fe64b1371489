"""ETags on every single resource, and If-None-Match answered with 304 while the resource is unchanged."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import World
from tests.server.evidence_helpers import enroll_gateway, register
from tests.server.test_cases_support import API, OWNER, new_case, new_site, visit_body


@pytest.fixture
def resources(client: TestClient, world: World) -> list[str]:
    """A path of each kind of single resource that has an ETag."""
    case = new_case(client, world)["id"]
    site = new_site(client, world, case)["id"]
    visit = client.post(f"{API}/cases/{case}/visits", json=visit_body(site), headers=world.headers(OWNER)).json()["id"]
    item = register(client, world, enroll_gateway(client), case, b"\xff\xd8\xff\xe0" + os.urandom(64))["item"]["id"]
    clue = client.post(
        f"{API}/clues", json={"title": "线索", "domain": "air", "source": "media"}, headers=world.headers(OWNER)
    ).json()["id"]
    return [
        f"/cases/{case}",
        f"/cases/{case}/sites/{site}",
        f"/cases/{case}/visits/{visit}",
        f"/items/{item}",
        f"/clues/{clue}",
    ]


def test_an_unchanged_resource_is_not_sent_again(client: TestClient, world: World, resources: list[str]) -> None:
    headers = world.headers(OWNER)
    for path in resources:
        first = client.get(API + path, headers=headers)
        tag = first.headers["ETag"]
        assert first.status_code == 200, path
        assert tag.startswith('"')
        again = client.get(API + path, headers={**headers, "If-None-Match": f'"other", W/{tag}'})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag), path
        assert client.get(API + path, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
        assert client.get(API + path, headers={**headers, "If-None-Match": "*"}).status_code == 304


def test_a_changed_resource_is_sent_with_its_new_tag(client: TestClient, world: World) -> None:
    headers = world.headers(OWNER)
    case = new_case(client, world)["id"]
    tag = client.get(f"{API}/cases/{case}", headers=headers).headers["ETag"]
    client.patch(f"{API}/cases/{case}", json={"description": "补充"}, headers=headers)
    changed = client.get(f"{API}/cases/{case}", headers={**headers, "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag
    assert changed.json()["description"] == "补充"


def test_errors_and_unsafe_methods_are_never_304(client: TestClient, world: World) -> None:
    headers = {**world.headers(OWNER), "If-None-Match": "*"}
    assert client.get(f"{API}/cases/999999", headers=headers).status_code == 404
    case = new_case(client, world)["id"]
    patched = client.patch(f"{API}/cases/{case}", json={"description": "x"}, headers=headers)
    assert patched.status_code == 200
    assert client.get(f"{API}/cases", headers=headers).status_code == 200  # a list has no ETag
