"""``fieldproof gateway status``: what the spool holds: devices, readings, evidence items, what awaits sync."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from device_gateway.config import resolve_data_dir
from device_gateway.spool import Spool
from device_gateway.spool.queries import ItemStatus, SpoolStatus, spool_status
from evidence.errors import InputError
from fieldproof import console


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "status",
        help="网关数据概况 what the gateway holds",
        description="Show the spool: devices with their frames, readings and exceedances; evidence items; "
        "frames not yet sealed into an item; items waiting to be synced.",
    )
    parser.add_argument("--data", type=Path, metavar="DIR", help="gateway data folder (default: see docs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data)
    if not (data_dir / "spool.sqlite3").exists():
        raise InputError(f"no gateway data in {data_dir} (run 'fieldproof gateway listen' first, or give --data)")
    with Spool(data_dir) as spool:
        status = spool_status(spool.connection)
    if args.json:
        console.print_json({"data": str(data_dir), **status.to_json()})
    else:
        _print(data_dir, status)
    return 0


def _print(data_dir: Path, status: SpoolStatus) -> None:
    out = console.stdout
    out.print(f"网关数据 gateway data: [bold]{data_dir}[/]")
    out.print(
        f"帧 frames {status.frames:,} · 读数 readings {status.readings:,} · 超标 exceedances {status.exceedances:,}"
        f" · 待封存帧 unsealed frames {status.unsealed_frames:,}"
    )
    out.print("\n[bold]设备 devices[/]")
    for d in status.devices:
        out.print(
            f"  {d.device} [{d.protocols}]: {d.frames:,} frames ({d.invalid_frames} invalid), {d.readings:,} readings,"
            f" {d.exceedances} exceedances, {d.first_received_at} → {d.last_received_at}",
            markup=False,
        )
    out.print("\n[bold]证据项 evidence items[/]")
    for item in status.items:
        out.print(
            f"  {item.name} ({item.kind}, {item.frames} frames, {item.size:,} bytes) 同步 sync: {_sync_text(item)}",
            markup=False,
        )
        out.print(f"    SHA-256 {item.sha256}  id {item.item_id}", highlight=False)
    if not status.items:
        out.print("  (none yet: items are sealed when 'gateway listen' stops)")


def _sync_text(item: ItemStatus) -> str:
    if item.sync == "synced":
        return f"synced (log index {item.log_index})"
    if item.sync == "uploading":
        return f"uploading ({item.uploaded or 0:,}/{item.size:,} bytes)"
    if item.sync == "failed":
        return f"failed: {item.reason}"
    return item.sync
