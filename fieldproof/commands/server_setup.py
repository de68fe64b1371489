"""What ``fieldproof server`` and ``fieldproof admin`` share: settings from options, and a database made ready."""

from __future__ import annotations

import argparse

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from evidence.errors import InputError
from server.config import Settings
from server.db import make_engine, session_factory
from server.ledger.service import log_size, server_key
from server.schema import build_schema


def settings_from(args: argparse.Namespace) -> Settings:
    given: dict[str, object] = {}
    if args.data is not None:
        given["data_dir"] = args.data
    if args.database_url is not None:
        given["database_url"] = args.database_url
    return Settings(**given)  # type: ignore[arg-type]


def prepare(settings: Settings) -> None:
    """Create the data folder, bring the schema up to date, and make the server key on a first start only."""
    try:
        engine = make_engine(settings.database)
    except ArgumentError as exc:
        raise InputError(f"not a database URL this server can use: {exc}") from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        build_schema(engine)
        _refuse_a_new_key_for_an_old_log(settings, engine)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        shown = engine.url.render_as_string(hide_password=True)
        raise InputError(f"cannot use the database at {shown} ({reason})") from exc
    finally:
        engine.dispose()
    server_key(settings)


def _refuse_a_new_key_for_an_old_log(settings: Settings, engine: Engine) -> None:
    """A log signed by a key that is gone cannot be continued by a new key: its checkpoints would not verify."""
    if settings.key_path.exists():
        return
    with session_factory(engine)() as session:
        size = log_size(session)
    if size:
        raise InputError(
            f"the database holds a signed log of {size} entries but the server key {settings.key_path} is missing; "
            "restore keys/ from the backup (a new key cannot continue this log)"
        )
