"""The database: engine, sessions, one transaction per request, and the evidence tables' immutability.

Services flush; the request scope commits when the request succeeded and rolls back when it did not, so a request
is all or nothing. SQLite runs in WAL mode with foreign keys on and a generous busy timeout (several workers may
share it); PostgreSQL is used as is.

Tables listed in ``IMMUTABLE_TABLES`` refuse UPDATE and DELETE in the database itself, through triggers installed
by the migrations (``immutability_ddl``), so not even an administrator with database access can rewrite them
unnoticed by the log: they are the evidence and its custody.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

IMMUTABLE_TABLES: list[str] = []  # filled by each domain's models module via ``immutable``


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator[datetime]):
    """A moment: stored in UTC, always handed back aware in UTC.

    SQLite keeps no zone, so without this a value comes back naive and a filter given with ``+08:00`` would be
    compared as if it were UTC. Naive values are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a moment without a zone cannot be stored: {value.isoformat()}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def immutable(table_name: str) -> str:
    """Register a table whose rows may never be updated or deleted; return its name (for ``__tablename__``)."""
    if table_name not in IMMUTABLE_TABLES:
        IMMUTABLE_TABLES.append(table_name)
    return table_name


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Every transaction takes the write lock up front: a reader that later writes would otherwise fail with
    # "database is locked" instead of waiting, and appends to the log must be serialized anyway.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed if the block ends normally, rolled back otherwise."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def immutability_ddl(dialect: str, table: str) -> list[str]:
    """SQL creating the triggers that refuse UPDATE and DELETE on ``table``."""
    message = f"{table} are evidence: never updated or deleted"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for action in ("UPDATE", "DELETE")
        ]
    return [
        f"CREATE OR REPLACE FUNCTION {table}_refuse() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{message}'; END $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_refuse()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse()",
    ]
