"""Building the schema: Alembic migrations when there are any, else the models directly (during development).

Either way the evidence tables get their immutability triggers, so tests see exactly what production sees.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from server import models  # noqa: F401
from server.db import IMMUTABLE_TABLES, Base, immutability_ddl
from server.migrate import upgrade_engine

_VERSIONS = Path(__file__).with_name("migrations") / "versions"


def has_migrations() -> bool:
    return any(p.suffix == ".py" and p.name != "__init__.py" for p in _VERSIONS.iterdir())


def build_schema(engine: Engine) -> None:
    if has_migrations():
        upgrade_engine(engine)
        return
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for table in IMMUTABLE_TABLES:
            for statement in immutability_ddl(engine.dialect.name, table):
                connection.execute(text(statement))
