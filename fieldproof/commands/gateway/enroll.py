"""``fieldproof gateway enroll``: register the gateway's key with a server, using a one-time code."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from device_gateway.config import resolve_data_dir
from device_gateway.identity import gateway_key
from device_gateway.spool import Spool
from device_gateway.sync.client import ServerClient
from device_gateway.sync.enroll import enroll, normalized, server_log_key
from device_gateway.sync.state import Enrollment
from fieldproof import console

TOKEN_ENV = "FIELDPROOF_TOKEN"  # noqa: S105 (the variable's name, not a token)


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "enroll",
        help="向服务器登记本网关 enroll this gateway with a server",
        description="Enroll the gateway's public key with the server using a one-time code from 'fieldproof admin "
        "enroll-code'. The server URL, the device id and (with a token) the server's log key are kept in the spool. "
        "Enrolling again with the same server changes nothing.",
    )
    parser.add_argument("--server", required=True, metavar="URL", help="the server, e.g. https://evidence.example")
    parser.add_argument("--code", required=True, metavar="CODE", help="the one-time enrollment code")
    parser.add_argument("--data", type=Path, metavar="DIR", help="gateway data folder (default: see docs)")
    parser.add_argument("--token", help=f"a user token, to pin the server's log key now (default: ${TOKEN_ENV})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data)
    key = gateway_key(data_dir)
    token = args.token or os.environ.get(TOKEN_ENV)
    with Spool(data_dir) as spool, ServerClient(normalized(args.server), key=key, token=token) as client:
        entry, new = enroll(spool, client, code=args.code, key=key)
        pinned = server_log_key(spool, client).name if token else None
    _output(entry, new=new, key_name=key.name, pinned=pinned, as_json=args.json)
    return 0


def _output(entry: Enrollment, *, new: bool, key_name: str, pinned: str | None, as_json: bool) -> None:
    if as_json:
        console.print_json(
            {
                "server": entry.server,
                "device_id": entry.device_id,
                "key_id": entry.key_id,
                "key_name": key_name,
                "unit": entry.unit,
                "new": new,
                "log_key": pinned,
            }
        )
        return
    verb = "已登记 enrolled" if new else "早已登记 enrolled already"
    console.stdout.print(
        f"{verb}: {key_name} → {entry.server} (unit {entry.unit}, device {entry.device_id})", markup=False
    )
    console.stdout.print(f"  key id {entry.key_id}", markup=False)
    if pinned is None:
        console.stderr.print("the server's log key is pinned at the first sync (it needs a user token)")
