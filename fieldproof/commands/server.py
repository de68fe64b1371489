"""``fieldproof server``: run the evidence server (migrations applied first, then uvicorn workers)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import uvicorn

from fieldproof import console
from fieldproof.commands.server_setup import prepare, settings_from


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "server",
        help="运行证据服务器 run the evidence server",
        description="Run the server: cases, evidence store, custody ledger and API under /api/v1 (OpenAPI at "
        "/api/v1/openapi.json, docs at /api/docs). Default: SQLite and blobs in --data DIR, created on first "
        "start; --database-url postgresql+psycopg://... for PostgreSQL. Migrations are applied at start. "
        "See docs/deployment.md.",
    )
    add_database_options(parser)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (they share the database)")
    parser.set_defaults(run=run)


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, metavar="DIR", help="server data folder (default: ./fieldproof-server)")
    parser.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL (default: SQLite inside DIR)")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    prepare(settings)
    for name, value in (("DATA_DIR", str(settings.data_dir)), ("DATABASE_URL", settings.database)):
        os.environ[f"FIELDPROOF_SERVER_{name}"] = value  # every worker builds the same Settings
    console.stderr.print(f"fieldproof server on http://{args.host}:{args.port}/api/v1 · data {settings.data_dir}")
    uvicorn.run("server.asgi:app", host=args.host, port=args.port, workers=args.workers, log_level="info")
    return 0
