"""``fieldproof admin``: bootstrap the server's database directly: units, users, tokens, enrollment codes,
integration clients."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.orm import Session

from evidence.canonical import canonical_text
from evidence.errors import InputError
from fieldproof import console
from fieldproof.commands.server import add_database_options
from fieldproof.commands.server_setup import prepare, settings_from
from server.admin import create_unit, create_user, token_for, unit_by_code
from server.auth import SCOPES
from server.clients.service import create_client, parse_scopes, revoke_client
from server.db import make_engine, session_factory, transaction
from server.devices.service import create_enrollment_code
from server.errors import ApiError
from server.users.models import ROLES


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "admin",
        help="服务器初始化：单位、用户、令牌 bootstrap the server's database",
        description="Work on the server's database directly, for bootstrapping: units, users, tokens and device "
        "enrollment codes. Migrations are applied first.",
    )
    add_database_options(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    unit = actions.add_parser("create-unit", help="create a unit (the city procuratorate or a county unit)")
    unit.add_argument("code")
    unit.add_argument("name")
    unit.add_argument("--parent", metavar="CODE", help="the unit above this one")
    unit.set_defaults(run=_create_unit)
    user = actions.add_parser("create-user", help="create a user")
    user.add_argument("username")
    user.add_argument("--unit", required=True, metavar="CODE")
    user.add_argument("--role", required=True, choices=ROLES)
    user.add_argument("--password", help="without one, the user signs in only with tokens (integrations)")
    user.add_argument("--name", help="display name")
    user.set_defaults(run=_create_user)
    token = actions.add_parser("issue-token", help="print a new bearer token for a user (and only the token)")
    token.add_argument("username")
    token.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12)")
    token.set_defaults(run=_issue_token)
    code = actions.add_parser("enroll-code", help="print a one-time device enrollment code (and only the code)")
    code.add_argument("--unit", required=True, metavar="CODE")
    code.set_defaults(run=_enroll_code)
    client = actions.add_parser(
        "create-client",
        help="create an integration client (a case system); print its id and secret as JSON, once",
        description="An OAuth 2.0 client (client credentials) for a case-management system or a data-sharing "
        "platform, in a unit, with scopes. The secret is printed once and stored only as its SHA-256.",
    )
    client.add_argument("name", help="what the client is, e.g. 'Yichuan case system'")
    client.add_argument("--unit", required=True, metavar="CODE")
    client.add_argument(
        "--scopes", required=True, metavar="SCOPES", help=f"space-separated, some of: {', '.join(SCOPES)}"
    )
    client.set_defaults(run=_create_client)
    revoke = actions.add_parser("revoke-client", help="revoke an integration client and every token it holds")
    revoke.add_argument("client_id")
    revoke.set_defaults(run=_revoke_client)


def _in_transaction(args: argparse.Namespace, work: Any) -> int:
    settings = settings_from(args)
    prepare(settings)
    engine = make_engine(settings.database)
    try:
        with transaction(session_factory(engine)) as session:
            output = work(session)
    except ApiError as exc:
        console.error(exc.message)
        return 1
    finally:
        engine.dispose()
    print(output)
    return 0


def _create_unit(args: argparse.Namespace) -> int:
    return _in_transaction(args, lambda s: create_unit(s, code=args.code, name=args.name, parent_code=args.parent).code)


def _create_user(args: argparse.Namespace) -> int:
    return _in_transaction(
        args,
        lambda s: (
            create_user(
                s,
                username=args.username,
                unit_code=args.unit,
                role=args.role,
                password=args.password,
                display_name=args.name,
            ).username
        ),
    )


def _issue_token(args: argparse.Namespace) -> int:
    return _in_transaction(args, lambda s: token_for(s, username=args.username, lifetime_hours=args.hours))


def _create_client(args: argparse.Namespace) -> int:
    try:
        scopes = parse_scopes(args.scopes)
    except ValueError as exc:
        raise InputError(f"--scopes: {exc}") from exc

    def create(session: Session) -> str:
        client_id, secret = create_client(session, unit_code=args.unit, name=args.name, scopes=scopes)
        return canonical_text({"client_id": client_id, "client_secret": secret, "scope": " ".join(sorted(scopes))})

    return _in_transaction(args, create)


def _revoke_client(args: argparse.Namespace) -> int:
    def revoke(session: Session) -> str:
        revoke_client(session, args.client_id)
        return f"revoked {args.client_id}"

    return _in_transaction(args, revoke)


def _enroll_code(args: argparse.Namespace) -> int:
    return _in_transaction(args, lambda s: create_enrollment_code(s, unit_id=unit_by_code(s, args.unit).id))
