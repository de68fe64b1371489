"""The schema comes from Alembic migrations: they match the models, apply twice harmlessly, and give every evidence
table its refuse-UPDATE/DELETE triggers on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from server import models  # noqa: F401 - registers every table
from server.db import IMMUTABLE_TABLES, make_engine
from server.migrate import alembic_config
from server.schema import build_schema


def test_a_fresh_database_is_at_the_newest_revision(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert current == head
    assert head is not None


def test_migrations_match_the_models(database_url: str) -> None:
    command.check(alembic_config(database_url))  # raises when autogenerate would find a difference


def test_applying_migrations_again_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        before = sorted(inspect(engine).get_table_names())
        build_schema(engine)
        assert sorted(inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()


@pytest.mark.parametrize("table", sorted(IMMUTABLE_TABLES))
def test_every_evidence_table_has_its_triggers(database_url: str, table: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert _trigger_names(connection, table) >= _expected_triggers(engine.dialect.name, table)
    finally:
        engine.dispose()


def _expected_triggers(dialect: str, table: str) -> set[str]:
    if dialect == "sqlite":
        return {f"{table}_no_update", f"{table}_no_delete"}
    return {f"{table}_no_change", f"{table}_no_truncate"}


def _trigger_names(connection, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:table AS regclass) AND NOT tgisinternal"
    return set(connection.execute(text(query), {"table": table}).scalars())
