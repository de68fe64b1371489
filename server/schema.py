"""Building the schema: the Alembic migrations, which also give evidence tables their immutability triggers."""

from __future__ import annotations

from sqlalchemy import Engine

from server.migrate import upgrade_engine


def build_schema(engine: Engine) -> None:
    """Bring the database behind ``engine`` to the newest schema (creating it when empty)."""
    upgrade_engine(engine)
