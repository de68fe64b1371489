"""Bad input gets a 4xx with a reason, never a 500: schemathesis over every operation of the OpenAPI.

The app's own OpenAPI document drives schemathesis. For every operation (the tus routes included: raw PATCH bodies,
protocol headers) it sends requests that fit the schema and requests that do not (positive and negative
generation), after its coverage phase of boundary values and missing or unexpected parts, as two callers: the city
prosecutor (``LY/prosecutor``, who may do most things) and a county investigator (``LY-YC/investigator``, who may
upload and register evidence and gets 403s where the prosecutor succeeds). Every response must

- not be a 5xx (``not_a_server_error``),
- have a status, content type and body the operation documents (``status_code_conformance``,
  ``content_type_conformance``, ``response_schema_conformance``: errors included, in the one error shape),
- refuse what the schema calls invalid with a 4xx (``negative_data_rejection``).

Each operation runs on a fresh database (SQLite and PostgreSQL, from ``database_url``) seeded with a LY-YC case, its
site and visit, a photo and a sensor batch with a reading, an upload in progress and a complete one, a clue; path
parameters, ids in bodies and the upload headers are often swapped for those objects, so the success paths run too,
not only the 404s. Generation is derandomized (a fixed seed, no example database): CI sends the same requests every
run. ``FIELDPROOF_FUZZ_EXAMPLES`` (default 25 per operation and generation mode) asks for a longer run.

(The schema is loaded at import from the app, not with ``schemathesis.pytest.from_fixture``: that lazy loader uses
``Node._nodeid``, which pytest 9.2 no longer has. The OpenAPI document does not depend on the database; the
requests go to the app of each test's database.)
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import Case, HookContext
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from evidence.keys import generate_key
from server.admin import token_for
from server.app import create_app
from server.config import Settings
from server.db import transaction
from server.items.schemas import Registered
from server.uploads.tus import OFFSET_OCTET_STREAM
from tests.server.conftest import World
from tests.server.evidence_helpers import (
    TUS,
    create_case,
    create_site,
    enroll_gateway,
    gateway_events,
    register,
    registration,
    tus_upload,
)

API = "/api/v1"
EXAMPLES = int(os.environ.get("FIELDPROOF_FUZZ_EXAMPLES", "25"))
SEED = 20260512
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
RECEIVING_METADATA = "sha256 " + base64.b64encode(b"0" * 64).decode()  # never completed: its bytes never come
# Found by this test in files owned elsewhere and reported there; each entry names the checks it would fail.
KNOWN_ISSUES: dict[tuple[str, str, int], tuple[object, ...]] = {}  # (method, path, status) -> checks to skip
CALLERS = {"LY/prosecutor": "ly-prosecutor", "LY-YC/investigator": "ly-yc-investigator"}


@dataclass
class Seeded:
    """Objects that exist, by the name of the parameter or body field that refers to them."""

    values: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.values.setdefault(name, []).append(value)


def _seed(client: TestClient, world: World) -> Seeded:
    """A LY-YC case with a site, a visit, a photo and a sensor batch with readings; uploads in progress and done;
    a pending clue."""
    seeded = Seeded()
    case = create_case(client, world, domain="air")
    site = create_site(client, world, case["id"])
    investigator = world.headers("LY-YC/investigator")
    visit = client.post(
        f"{API}/cases/{case['id']}/visits",
        json={
            "site": site["id"],
            "started_at": "2026-05-12T09:00:00+08:00",
            "ended_at": "2026-05-12T11:00:00+08:00",
            "investigators": ["ly-yc-investigator", "ly-yc-prosecutor"],
            "devices": ["DSJ-A8"],
        },
        headers=investigator,
    )
    assert visit.status_code == 201, visit.text
    gateway = enroll_gateway(client)
    photo = register(client, world, gateway, case["id"], b"\xff\xd8\xff\xe0photo")["item"]
    batch_data = b'{"format":"fieldproof.sensor-batch/1"}\n'
    batch = client.post(
        f"{API}/items",
        json={
            "item_id": "sensor-batch-1",
            "case_id": case["id"],
            "upload_id": tus_upload(client, investigator, batch_data),
            "kind": "sensor-batch",
            "media_type": "application/x-ndjson",
            "name": "sensor-batch.jsonl",
            "events": [e.to_json() for e in gateway_events(gateway, "sensor-batch-1", batch_data)],
        },
        headers=investigator,
    )
    assert batch.status_code == 201, batch.text
    reading = {"device": "LYDUST0042", "code": "a34004", "value": 180.0, "measured_at": "2026-05-12T09:40:00+08:00"}
    stored = client.post(
        f"{API}/readings", json={"item_id": "sensor-batch-1", "readings": [reading]}, headers=investigator
    )
    assert stored.status_code == 200, stored.text
    receiving = client.post(
        f"{API}/uploads",
        headers={**investigator, **TUS, "Upload-Length": "10", "Upload-Metadata": RECEIVING_METADATA},
    )
    assert receiving.status_code == 201, receiving.text
    clue = client.post(
        f"{API}/clues", json={"title": "线索", "domain": "water", "source": "complaint"}, headers=investigator
    )
    assert clue.status_code == 201, clue.text
    seeded.add("clue_id", clue.json()["id"])
    seeded.add("case_id", case["id"])
    seeded.add("site_id", site["id"])
    seeded.add("site", site["id"])
    seeded.add("visit_id", visit.json()["id"])
    seeded.add("item_id", photo["id"])
    seeded.add("item_id", "sensor-batch-1")
    seeded.add("upload_id", receiving.headers["location"].rsplit("/", 1)[1])
    seeded.add("upload_id", tus_upload(client, investigator, b"complete upload"))
    seeded.add("index", 0)
    seeded.add("investigators", ["ly-yc-investigator", "ly-yc-prosecutor"])
    seeded.add("Tus-Resumable", "1.0.0")
    seeded.add("Upload-Metadata", RECEIVING_METADATA)
    seeded.add("Upload-Offset", "0")
    return seeded


SEEDED = Seeded()  # the seeded objects of the database the current test runs on (the hooks read it)


def _sometimes_real(_context: HookContext, case: Case) -> st.SearchStrategy[Case]:
    """A flatmap hook: the case with the names it shares with seeded objects made real (tried first), or as is.

    Only parts generated valid change: a real id in place of one made invalid on purpose would turn a request meant
    to be refused into one that succeeds. On the tus routes ``Tus-Resumable: 1.0.0`` is added whatever the mode: it
    is optional in the schema, yet without it every request stops at 412, before the upload is even looked at.
    """
    swaps: dict[str, st.SearchStrategy[dict[str, Any]]] = {}
    tus = case.path.startswith(f"{API}/uploads")
    for attribute, location in (
        ("path_parameters", ParameterLocation.PATH),
        ("body", ParameterLocation.BODY),
        ("headers", ParameterLocation.HEADER),
    ):
        container = getattr(case, attribute)
        if container is None and attribute == "headers":
            container = {}
        if not isinstance(container, dict):
            continue
        valid = case.meta is None or not case.meta.is_negative_at(location)
        names = [name for name in container if name in SEEDED.values] if valid else []
        if attribute == "headers" and tus and "Tus-Resumable" not in names:
            names.append("Tus-Resumable")
        if names:
            swaps[attribute] = st.fixed_dictionaries({name: st.sampled_from(SEEDED.values[name]) for name in names})
    if not swaps:
        return st.just(case)

    def made_real(chosen: dict[str, dict[str, Any]]) -> Case:
        for attribute, values in chosen.items():
            setattr(case, attribute, {**(getattr(case, attribute) or {}), **values})
        return case

    return st.one_of(st.fixed_dictionaries(swaps).map(made_real), st.just(case))


def _openapi() -> dict[str, Any]:
    """The OpenAPI document (it does not depend on the database)."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(data_dir=Path(folder), database_url="sqlite://"))
        document = app.openapi()
        app.state.engine.dispose()
    return document


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        # bad input is refused with any 4xx: tus answers 412 without Tus-Resumable, 413 over the size cap
        "checks": {"negative_data_rejection": {"expected-statuses": ["4xx"]}},
    }
)
schema = schemathesis.openapi.from_dict(_openapi(), config=CONFIG)
schema.hook("flatmap_case")(_sometimes_real)
# tus PATCH bodies are raw bytes, sent as application/offset+octet-stream
schemathesis.serializer.alias(OFFSET_OCTET_STREAM, "application/octet-stream")


@pytest.fixture(params=sorted(CALLERS))
def caller(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def seeded(client: TestClient, world: World) -> Iterator[Seeded]:
    SEEDED.values = _seed(client, world).values
    yield SEEDED
    SEEDED.values = {}


@schema.parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the database is the one under test
def test_bad_input_gets_a_4xx_never_a_500(
    case: Case, client: TestClient, world: World, seeded: Seeded, caller: str
) -> None:
    headers = world.headers(caller)
    if (case.method, case.path) == ("DELETE", f"{API}/auth/token"):
        with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
            headers = {"Authorization": f"Bearer {token_for(session, username=CALLERS[caller])}"}
    response = case.call(headers=headers, app=client.app)
    known = KNOWN_ISSUES.get((case.method, case.path, response.status_code), ())
    case.validate_response(response, checks=[check for check in CHECKS if check not in known], headers=headers)


# Regression tests for what the fuzzing found: each bad input below once got a 500, was silently accepted, or got
# an answer the OpenAPI did not document.

INVESTIGATOR = "LY-YC/investigator"
JSON = {"Content-Type": "application/json"}
READING = {"device": "LYDUST0042", "code": "a34004", "value": 1.0, "measured_at": "2026-05-12T09:40:00+08:00"}


def _registration(**fields: Any) -> dict[str, Any]:
    body = {"item_id": "x-1", "case_id": 1, "sha256": "0" * 64, "kind": "photo", "media_type": "image/jpeg"}
    return {**body, "name": "x.jpg", **fields}


def _send(client: TestClient, world: World, method: str, path: str, body: Any = None) -> Any:
    """``body`` as JSON text (so that it may hold what Python's JSON reads but does not write), or raw bytes."""
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body, allow_nan=True)
    headers = {**world.headers(INVESTIGATOR), **JSON}
    return client.request(method, API + path, content=content, headers=headers)


def _refused(answer: Any, status: int = 422) -> str:
    """The answer is ``status`` with the API's error shape; returns its message and details, to look for a reason."""
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return f"{error['message']} {error['details']}"


def test_every_error_answer_is_documented_with_the_error_shape(client: TestClient) -> None:
    """The OpenAPI documents 401/403/404/409/412 and 400 where they happen, all with the one error shape; its 422
    was FastAPI's ``{"detail": [...]}``, which this API never sends."""
    document = client.get(f"{API}/openapi.json").json()
    for path, operations in document["paths"].items():
        if path.startswith(f"{API}/uploads"):
            continue  # tus: errors are read from the status (server/uploads, documented there)
        if path == f"{API}/oauth/token":  # OAuth 2.0's own error shape (RFC 6749 §5.2), for OAuth libraries
            responses = operations["post"]["responses"]
            for status in ("400", "401"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/OAuthErrorOut"}
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {status: answer for status, answer in responses.items() if status.startswith("4")}
            assert errors, (method, path)
            for status, answer in errors.items():
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
            if path not in (f"{API}/auth/token", f"{API}/devices/enroll"):
                assert "401" in responses, (method, path)
    get_case = document["paths"][f"{API}/cases/{{case_id}}"]["get"]["responses"]
    assert {"401", "404", "422"} <= set(get_case)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/cases"), ("PATCH", "/cases/{case_id}"), ("POST", "/readings"), ("POST", "/auth/token")],
)
def test_a_body_that_is_not_utf8_json_gets_a_documented_400(
    client: TestClient, world: World, method: str, path: str
) -> None:
    """FastAPI answers 400 for a body it cannot decode (and 422 for a JSON syntax error): it was undocumented."""
    answer = _send(client, world, method, path.format(case_id=1), b"\xff\xfe{")
    assert "error parsing the body" in _refused(answer, 400)
    documented = client.get(f"{API}/openapi.json").json()["paths"][API + path][method.lower()]["responses"]
    assert "400" in documented


@pytest.mark.parametrize(
    "fields", [{"case_id": 2**40}, {"case_id": 0}, {"visit_id": 2**31}], ids=["case-2**40", "case-0", "visit-2**31"]
)
def test_ids_beyond_32_bits_are_refused(client: TestClient, world: World, fields: dict[str, Any]) -> None:
    """Was a 500: SQLite cannot bind integers beyond 64 bits, PostgreSQL's integer ids stop at 2**31 - 1."""
    name = next(iter(fields))
    assert name in _refused(_send(client, world, "POST", "/items", _registration(**fields)))


@pytest.mark.parametrize(
    "event", [{"seq": 2**60}, {"note": "\ud800"}, {"x": float("nan")}], ids=["beyond-2**53", "lone-surrogate", "nan"]
)
def test_a_registration_without_a_canonical_json_form_is_refused(
    client: TestClient, world: World, event: dict[str, Any]
) -> None:
    """Was a 500: the request hash (RFC 8785) cannot be computed for what JSON cannot represent exactly."""
    answer = _send(client, world, "POST", "/items", _registration(events=[event]))
    assert "canonical JSON" in _refused(answer)


def test_numbers_that_are_not_finite_are_refused(client: TestClient, world: World) -> None:
    """JSON has no infinities, but ``1e400`` parses as one; they were stored, and answered as null."""
    _seed(client, world)
    assert "clock_offset_s" in _refused(_send(client, world, "POST", "/items", _registration(clock_offset_s=1e400)))
    batch = {"item_id": "sensor-batch-1", "readings": [{**READING, "value": 1e400}]}
    assert "value" in _refused(_send(client, world, "POST", "/readings", batch))
    location = {"lat": 34.6, "lon": 112.4, "alt": float("nan"), "source": "manual"}
    assert "alt" in _refused(_send(client, world, "POST", "/items", _registration(location=location)))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/items/a%00b", None),
        ("GET", "/items/a%00b/custody", None),
        ("GET", "/cases/1/items?kind=a%00b", None),
        ("GET", "/cases/1/readings?code=a%00b", None),
        ("GET", "/cases/1/readings?device=a%00b", None),
        ("POST", "/auth/token", {"username": "ly-yc\x00investigator", "password": "x"}),
        ("POST", "/readings", {"item_id": "sensor-batch-1", "readings": [{**READING, "device": "a\x00b"}]}),
        ("POST", "/readings", {"item_id": "sensor\x00batch-1", "readings": [READING]}),
        ("POST", "/items", _registration(name="a\x00b.jpg")),
        ("POST", "/items", _registration(collected_by=["ly-yc\x00investigator"])),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_nul_characters_are_refused(client: TestClient, world: World, method: str, path: str, body: Any) -> None:
    """Was a 500 on PostgreSQL, whose text cannot hold NUL characters."""
    _seed(client, world)
    assert "pattern" in _refused(_send(client, world, method, path, body))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2026-05-12T09:00:00", "timezone"),
        ("until=2026-05-12T09:00:00", "timezone"),
        ("from=0.5", "ISO 8601"),
        ("until=1715500000", "ISO 8601"),
    ],
)
@pytest.mark.parametrize("listing", ["items", "readings"])
def test_filters_take_iso_date_times_with_an_offset(
    client: TestClient, world: World, listing: str, query: str, reason: str
) -> None:
    """A time without an offset was a 500 (it cannot be compared in UTC); a number was read as a Unix timestamp."""
    _seed(client, world)
    assert reason in _refused(_send(client, world, "GET", f"/cases/1/{listing}?{query}"))
    assert _send(client, world, "GET", f"/cases/1/{listing}?from=2026-05-12T09:00:00%2B08:00").status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/cases/1/items?from=0001-01-01T00:00:00%2B08:00", None),
        ("/cases/1/readings?until=9999-12-31T23:59:59-08:00", None),
        ("/items", _registration(captured_at="0001-01-01T00:00:00+08:00")),
        ("/readings", {"item_id": "sensor-batch-1", "readings": [{**READING, "measured_at": "0001-01-01T07:59Z"}]}),
    ],
    ids=["items-from", "readings-until", "captured_at", "measured_at"],
)
def test_instants_beyond_what_utc_can_hold_are_refused(client: TestClient, world: World, path: str, body: Any) -> None:
    """Was a 500 (OverflowError converting to UTC): year 1 at +08:00 is before the first instant a datetime holds."""
    _seed(client, world)
    answer = _send(client, world, "GET" if body is None else "POST", path, body)
    if path == "/readings":  # 07:59Z on the first day is in range: the check is not off by one zone
        assert answer.status_code == 200, answer.text
        return
    assert "out of range" in _refused(answer)


def test_a_visit_in_numbers_or_out_of_range_is_refused(client: TestClient, world: World) -> None:
    _seed(client, world)
    visit = {"site": 1, "investigators": ["ly-yc-investigator", "ly-yc-prosecutor"]}
    for started_at in (1715500000, "0001-01-01T00:00:00+08:00"):
        body = {**visit, "started_at": started_at, "ended_at": "2026-05-12T11:00:00+08:00"}
        assert "started_at" in _refused(_send(client, world, "POST", "/cases/1/visits", body))


def test_a_registration_retry_answers_a_documented_200(client: TestClient, world: World) -> None:
    """A retry of the very same registration answers 200 with the item: the OpenAPI listed only 201."""
    case = create_case(client, world)
    gateway, headers, data = enroll_gateway(client), world.headers(INVESTIGATOR), b"\xff\xd8\xff\xe0retry"
    events = gateway_events(gateway, "retry-1", data)
    body = registration(case["id"], "retry-1", tus_upload(client, headers, data), events)
    first = client.post(f"{API}/items", json=body, headers=headers)
    again = client.post(f"{API}/items", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    Registered.model_validate(again.json())
    documented = client.get(f"{API}/openapi.json").json()["paths"][f"{API}/items"]["post"]["responses"]
    assert documented["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Registered"}


@pytest.mark.parametrize(
    "fields",
    [{"public_key": "gateway-1+00000000+\x80AAAAAAAA"}, {"code": "ABCD-\ud800"}, {"code": "ABCD\x00EFGH"}],
    ids=["key-not-ascii", "code-lone-surrogate", "code-nul"],
)
def test_enrollment_refuses_what_no_key_or_code_can_be(client: TestClient, fields: dict[str, str]) -> None:
    """Was a 500, and to anyone: enrolling needs no token, and the key is parsed (and the code hashed) first."""
    body = {"code": "ABCD-EFGH-JKLM", "kind": "gateway", "name": "n", "public_key": generate_key("gw").public.to_text()}
    answer = client.post(f"{API}/devices/enroll", content=json.dumps({**body, **fields}), headers=JSON)
    assert next(iter(fields)) in _refused(answer)


def test_a_password_that_is_not_unicode_text_is_refused(client: TestClient, world: World) -> None:
    """Was a 500 for a user with a password: argon2 hashes the password's UTF-8, which a lone surrogate has not."""
    body = json.dumps({"username": "ly-prosecutor", "password": "pw-\ud800"}).encode()
    assert "password" in _refused(client.post(f"{API}/auth/token", content=body, headers=JSON))
    right = client.post(f"{API}/auth/token", json={"username": "ly-prosecutor", "password": "pw-ly-prosecutor"})
    assert right.status_code == 200, right.text
