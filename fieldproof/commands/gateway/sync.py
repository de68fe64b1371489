"""``fieldproof gateway sync``: send every pending item to the server, keep its receipts, push readings."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from device_gateway.config import resolve_data_dir
from device_gateway.errors import NotEnrolledError
from device_gateway.identity import gateway_key
from device_gateway.spool import Spool
from device_gateway.sync.client import TIMEOUT_S, ServerClient
from device_gateway.sync.engine import PARALLEL, SyncOptions, SyncSummary, remaining, sync
from device_gateway.sync.enroll import normalized
from evidence.errors import InputError
from fieldproof import console
from fieldproof.commands.gateway.enroll import TOKEN_ENV

MAX_PARALLEL = 32
MAX_TIMEOUT_S = 3600.0


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "sync",
        help="同步到服务器 sync evidence to the server",
        description="Upload every pending item (tus, resumable at chunk level, also after a restart), register it "
        "with its signed custody events, check and keep the server's receipt, then push the sensor readings. "
        "Exit status 0 when everything is synced; 1 with the reasons otherwise; 2 for bad usage (not enrolled, "
        "no token). See docs/sync.md.",
    )
    parser.add_argument("--server", required=True, metavar="URL", help="the server the gateway is enrolled with")
    parser.add_argument("--data", type=Path, metavar="DIR", help="gateway data folder (default: see docs)")
    parser.add_argument("--case", type=int, metavar="ID", help="file items that have no case yet under this case")
    parser.add_argument("--token", help=f"the investigator's token (default: ${TOKEN_ENV})")
    parser.add_argument(
        "--parallel",
        type=int,
        default=PARALLEL,
        metavar="N",
        help=f"items in flight at once (default {PARALLEL}; 1 sends one item at a time)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up on a request that is silent this long, then retry (default {TIMEOUT_S:g})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise NotEnrolledError(f"a user token is needed: --token or ${TOKEN_ENV}")
    if args.case is not None and args.case < 1:
        raise InputError("--case must be a case id (a positive number)")
    if not 1 <= args.parallel <= MAX_PARALLEL:
        raise InputError(f"--parallel must be between 1 and {MAX_PARALLEL}")
    if not 0 < args.timeout <= MAX_TIMEOUT_S:
        raise InputError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds")
    data_dir = resolve_data_dir(args.data)
    if not (data_dir / "spool.sqlite3").exists():
        raise InputError(f"no gateway data in {data_dir} (give --data)")
    key = gateway_key(data_dir)
    options = SyncOptions(case_id=args.case, parallel=args.parallel)
    server = normalized(args.server)
    with Spool(data_dir) as spool, ServerClient(server, key=key, token=token, timeout_s=args.timeout) as client:
        items, left = remaining(spool)
        with console.file_progress("同步 syncing", len(items), left, enabled=not args.json) as progress:
            summary = sync(spool, client, options=options, progress=progress)
    _output(summary, as_json=args.json)
    return 0 if summary.ok else 1


def _output(summary: SyncSummary, *, as_json: bool) -> None:
    if as_json:
        console.print_json(summary.to_json())
        return
    out = console.stdout
    out.print(
        f"同步 sync → {summary.server}: 已同步 synced {summary.count('synced')} · 失败 failed "
        f"{summary.count('failed')} · 待同步 pending {summary.count('pending')} · {summary.bytes_sent:,} bytes sent",
        markup=False,
    )
    readings = summary.readings
    out.print(
        f"读数 readings: {readings.stored:,} stored, {readings.duplicates:,} already there, {readings.alerts} alerts",
        markup=False,
    )
    if summary.checkpoint_size is not None:
        out.print(f"日志 log: receipts checked against a checkpoint of {summary.checkpoint_size:,} entries")
    for item in summary.items:
        if item.status != "synced":
            out.print(f"  {item.status}: {item.name} ({item.item_id}): {item.reason or 'not reached'}", markup=False)
    if summary.stopped:
        console.error(f"sync stopped: {summary.stopped}")
