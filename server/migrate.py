"""Applying the schema: Alembic migrations up to the newest, run by `fieldproof server` and `fieldproof admin`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (creating it if empty)."""
    command.upgrade(alembic_config(url), "head")


def upgrade_engine(engine: Engine) -> None:
    upgrade(engine.url.render_as_string(hide_password=False))
