"""``fieldproof admin``: bootstrapping units, users, tokens and enrollment codes, with clear errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from server.auth import token_digest
from server.clients.models import IntegrationClient
from server.db import make_engine, session_factory, transaction
from server.ledger import service as ledger
from server.users.models import Token
from tests.fieldproof.conftest import CliResult
from tests.server.test_ledger_service import chain

Cli = Callable[..., CliResult]


def test_bootstrap_prints_only_what_scripts_need(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "server"
    assert cli("admin", "--data", data, "create-unit", "LY", "洛阳市人民检察院").status == 0
    assert cli("admin", "--data", data, "create-unit", "LY-YC", "伊川县人民检察院", "--parent", "LY").status == 0
    assert (
        cli("admin", "--data", data, "create-user", "ly-yc-inv", "--unit", "LY-YC", "--role", "investigator").status
        == 0
    )
    token = cli("admin", "--data", data, "issue-token", "ly-yc-inv")
    code = cli("admin", "--data", data, "enroll-code", "--unit", "LY-YC")
    assert token.status == 0
    assert code.status == 0
    assert len(token.stdout.split()) == 1
    assert len(code.stdout.split()) == 1
    engine = make_engine(f"sqlite:///{data / 'server.sqlite3'}")
    try:
        with session_factory(engine)() as session:
            stored = session.scalars(select(Token.token_hash)).all()
    finally:
        engine.dispose()
    assert stored
    assert token.stdout.strip() not in stored, "a token is kept only as a hash"


def test_mistakes_are_explained_not_tracebacks(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "server"
    cli("admin", "--data", data, "create-unit", "LY", "洛阳市人民检察院")
    twice = cli("admin", "--data", data, "create-unit", "LY", "again")
    no_unit = cli("admin", "--data", data, "create-user", "x", "--unit", "NOPE", "--role", "investigator")
    no_user = cli("admin", "--data", data, "issue-token", "nobody")
    for result, reason in ((twice, "exists already"), (no_unit, "no unit NOPE"), (no_user, "no user nobody")):
        assert result.status == 1
        assert reason in result.stderr
        assert "Traceback" not in result.stderr


def test_an_unusable_database_is_named_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "server"
    refused = cli(
        "admin", "--data", data, "--database-url", "postgresql+psycopg://root@127.0.0.1:1/x", "create-unit", "A", "B"
    )
    bogus = cli("server", "--data", data, "--database-url", "bogus://x")
    assert refused.status == 2
    assert "cannot use the database at postgresql+psycopg://root@127.0.0.1:1/x" in refused.stderr
    assert "refused" in refused.stderr
    assert bogus.status == 2
    assert "not a database URL" in bogus.stderr


def test_a_lost_server_key_is_not_silently_replaced(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "server"
    assert cli("admin", "--data", data, "create-unit", "LY", "洛阳市人民检察院").status == 0
    engine = make_engine(f"sqlite:///{data / 'server.sqlite3'}")
    try:
        with transaction(session_factory(engine)) as session:
            ledger.append(session, chain(2))
    finally:
        engine.dispose()
    shutil.rmtree(data / "keys")
    refused = cli("admin", "--data", data, "create-unit", "LY-YC", "伊川县人民检察院", "--parent", "LY")
    assert refused.status == 2
    assert "server key" in refused.stderr
    assert "restore keys/" in refused.stderr
    assert not (data / "keys" / "server.key").exists()


def test_an_integration_client_is_made_once_shown_and_revoked(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "server"
    cli("admin", "--data", data, "create-unit", "LY", "洛阳市人民检察院")
    made = cli("admin", "--data", data, "create-client", "案件管理系统", "--unit", "LY", "--scopes", "cases:read")
    assert made.status == 0, made.stderr
    shown = made.json()
    assert set(shown) == {"client_id", "client_secret", "scope"}
    assert shown["scope"] == "cases:read"
    engine = make_engine(f"sqlite:///{data / 'server.sqlite3'}")
    try:
        with session_factory(engine)() as session:
            kept = session.scalars(select(IntegrationClient.secret_hash)).all()
    finally:
        engine.dispose()
    assert kept == [token_digest(shown["client_secret"])], "the secret is kept only as its SHA-256"
    revoked = cli("admin", "--data", data, "revoke-client", shown["client_id"])
    assert revoked.status == 0
    unknown = cli("admin", "--data", data, "revoke-client", "fpc_nope")
    assert (unknown.status, "no client fpc_nope" in unknown.stderr) == (1, True)
    bad_scope = cli("admin", "--data", data, "create-client", "x", "--unit", "LY", "--scopes", "cases:write")
    assert bad_scope.status == 2
    assert "cases:write" in bad_scope.stderr
