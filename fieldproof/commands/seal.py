"""``fieldproof seal``: seal files into a court package that anyone can verify offline."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from evidence.errors import InputError
from evidence.keys import load_signing_key
from evidence.seal import SealResult, seal_files
from fieldproof import console


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "seal",
        help="封存文件为电子证据包 seal files into a court package",
        description="Copy each FILE into a new court package (a BagIt directory, or a .zip), hashing it as it "
        "is copied; record signed custody events for every item, a log over them and a signed checkpoint. "
        "The originals are only read, never changed.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files to seal")
    parser.add_argument("--key", required=True, type=Path, metavar="KEYFILE", help="private key to sign with")
    parser.add_argument("--out", required=True, type=Path, metavar="PACKAGE", help="package to create (dir or .zip)")
    parser.add_argument("--actor", help="who is sealing (default: the login name)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    key = load_signing_key(args.key)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise InputError(f"not a readable file: {', '.join(missing)}")
    total = sum(f.stat().st_size for f in args.files)
    with console.byte_progress("封存 sealing", total, enabled=not args.json) as advance:
        result = seal_files(args.files, key=key, out=args.out, user=args.actor or _login_name(), progress=advance)
    if args.json:
        console.print_json(result_json(result))
    else:
        _print_summary(result)
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def result_json(result: SealResult) -> dict[str, Any]:
    head = result.checkpoint.checkpoint
    return {
        "package": str(result.path),
        "package_id": result.package_id,
        "items": [item.to_json() for item in result.items],
        "events": result.events,
        "checkpoint": {"origin": head.origin, "size": head.size, "root": head.root.hex()},
    }


def _print_summary(result: SealResult) -> None:
    out = console.stdout
    out.print(f"已封存 sealed: [bold]{result.path}[/] (package id {result.package_id})")
    for number, item in enumerate(result.items, start=1):
        out.print(f" {number:>3}. {item.name}  [{item.kind}, {item.media_type}, {item.size:,} bytes]", markup=False)
        out.print(f"      SHA-256 {item.sha256}", highlight=False)
    out.print(f"{len(result.items)} items, {result.events} signed custody events")
