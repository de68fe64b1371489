"""Alembic environment: the URL comes from the caller (server/migrate.py) or FIELDPROOF_SERVER_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

from server import models  # noqa: F401 - registers every table on Base.metadata
from server.db import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("FIELDPROOF_SERVER_DATABASE_URL")
if not url:
    raise SystemExit("set FIELDPROOF_SERVER_DATABASE_URL to the database to migrate")
config.set_main_option("sqlalchemy.url", url)


def run_migrations_online() -> None:
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
