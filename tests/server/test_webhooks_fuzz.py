"""Schemathesis over the webhook operations, as the county's unit administrator (who may manage webhooks).

``test_api_fuzz`` fuzzes every operation as a prosecutor and an investigator, whom the webhook routes refuse (403)
before they read anything; here the same schema, checks and hooks run them as ``LY-YC/unit_admin``, with the
``webhook_id`` of a seeded endpoint swapped in often, so their success paths are fuzzed too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import Case

from server.config import Settings
from tests.server import test_api_fuzz as fuzz
from tests.server.conftest import World

ADMIN = "LY-YC/unit_admin"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """No background worker: the endpoints fuzzing creates have made-up URLs, which nothing should call."""
    return Settings(
        data_dir=tmp_path / "server", database_url=database_url, log_name="fieldproof.test/log", webhook_worker=False
    )


@pytest.fixture
def seeded_webhook(client: TestClient, world: World) -> Iterator[int]:
    body = {"url": "http://127.0.0.1:9/fuzz", "event_types": ["item.received"]}
    made = client.post(f"{fuzz.API}/webhooks", json=body, headers=world.headers(ADMIN))
    assert made.status_code == 201, made.text
    webhook_id = int(made.json()["id"])
    assert client.post(f"{fuzz.API}/webhooks/{webhook_id}/test", headers=world.headers(ADMIN)).status_code == 202
    fuzz.SEEDED.values = {"webhook_id": [webhook_id]}
    yield webhook_id
    fuzz.SEEDED.values = {}


@fuzz.schema.include(path_regex="/webhooks").parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the database is the one under test
def test_webhook_operations_answer_as_documented(
    case: Case, client: TestClient, world: World, seeded_webhook: int
) -> None:
    headers = world.headers(ADMIN)
    response = case.call(headers=headers, app=client.app)
    case.validate_response(response, checks=fuzz.CHECKS, headers=headers)
