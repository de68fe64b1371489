"""Server test fixtures: every server test runs on SQLite and on PostgreSQL.

PostgreSQL: ``FIELDPROOF_TEST_POSTGRES_URL`` or the local server (postgresql+psycopg://root@127.0.0.1:5432/postgres).
Each test gets a fresh database, copied from a template holding the schema (fast, and nothing needs deleting:
evidence tables refuse DELETE and TRUNCATE). In CI (``CI=true``) PostgreSQL must be there: the tests fail rather
than skip. Elsewhere, without it, the PostgreSQL half is skipped with the reason, and the SQLite half still runs.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from server import models  # noqa: F401
from server.admin import create_unit, create_user, token_for
from server.app import create_app
from server.config import Settings
from server.db import make_engine, transaction
from server.schema import build_schema

POSTGRES_URL = os.environ.get("FIELDPROOF_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
_TEMPLATE = f"fp_template_{os.getpid()}"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _postgres_reachable() -> bool:
    try:
        with psycopg.connect(_plain(POSTGRES_URL), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _database_url(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


def require_postgres(why: str) -> None:
    """Fail in CI, skip elsewhere with ``why``, when PostgreSQL cannot be reached."""
    if not _postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL at {POSTGRES_URL} (.ci/run starts it); it is not reachable")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {why}")


@contextmanager
def fresh_postgres_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database (a copy of ``template``, if given) for one test; its URL; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_plain(POSTGRES_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _database_url(name)
    finally:
        with psycopg.connect(_plain(POSTGRES_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    require_postgres("the PostgreSQL half of the server tests is skipped")
    with psycopg.connect(_plain(POSTGRES_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"')
        admin.execute(f'CREATE DATABASE "{_TEMPLATE}"')
    _build(_database_url(_TEMPLATE))
    yield _TEMPLATE
    with psycopg.connect(_plain(POSTGRES_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')


def _build(url: str) -> None:
    engine = make_engine(url)
    try:
        build_schema(engine)
    finally:
        engine.dispose()  # no connection may stay open on a template database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated once per session; each test gets a copy (as PostgreSQL tests get a template copy)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "server.sqlite3"
    _build(f"sqlite:///{path}")
    assert not path.with_name(path.name + "-wal").exists(), "the template must be checkpointed before it is copied"
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        copy = tmp_path / "server.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), copy)
        yield f"sqlite:///{copy}"
        return
    with fresh_postgres_database("fp_test", request.getfixturevalue("postgres_template")) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "server", database_url=database_url, log_name="fieldproof.test/log")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@dataclass
class World:
    """Luoyang's city procuratorate (LY), two county units under it, and a user of every role in each."""

    tokens: dict[str, str]  # "LY/prosecutor" -> token

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


UNITS = (("LY", "洛阳市人民检察院", None), ("LY-YC", "伊川县人民检察院", "LY"), ("LY-SX", "嵩县人民检察院", "LY"))
ROLES = ("investigator", "evidence_officer", "prosecutor", "unit_admin", "integration")


@pytest.fixture
def world(client: TestClient) -> World:
    tokens: dict[str, str] = {}
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        for code, name, parent in UNITS:
            create_unit(session, code=code, name=name, parent_code=parent)
        for code, _name, _parent in UNITS:
            for role in ROLES:
                username = f"{code.lower()}-{role}"
                # argon2 is slow by design: only the user the sign-in tests use gets a password
                password = f"pw-{username}" if username == "ly-prosecutor" else None
                create_user(session, username=username, unit_code=code, role=role, password=password)
                tokens[f"{code}/{role}"] = token_for(session, username=username)
    return World(tokens)


def raw_engine(url: str):  # type: ignore[no-untyped-def]
    """An engine on the test database outside the app, as an administrator with database access would have."""
    return create_engine(url)


__all__ = ["POSTGRES_URL", "ROLES", "UNITS", "World", "raw_engine", "text"]
