"""``fieldproof verify``: check a court package offline; report integrity apart from trust."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evidence.errors import PackageFormatError
from evidence.keys import load_public_key
from evidence.verify import VerificationReport, payload_size, verify_package
from fieldproof import console

EXIT_UNREADABLE = 2
VERDICTS = {
    0: "[bold green]完好且可信 INTACT and TRUSTED[/]",
    1: "[bold red]完整性校验失败 INTEGRITY FAILURE[/]: 内容被更改、增加、删除、重排或伪造 "
    "something was changed, added, removed, reordered or forged",
    3: "[bold yellow]内容完好，但无可信签名 INTACT but NOT TRUSTED[/]: 请用 --trust 指定可信公钥 "
    "no signature by a trusted key (give --trust KEY.pub)",
}


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "verify",
        help="离线校验电子证据包 verify a court package offline",
        description="Verify PACKAGE (directory or .zip) with no server. Exit status: 0 intact and signed by a "
        "trusted key; 1 integrity failure; 2 cannot be read or bad usage; 3 intact but no trusted signature.",
    )
    parser.add_argument("package", type=Path, metavar="PACKAGE")
    parser.add_argument(
        "--trust", action="append", default=[], type=Path, metavar="PUBKEYFILE", help="a trusted public key"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    trusted = [load_public_key(path) for path in args.trust]
    try:
        with console.byte_progress("校验 verifying", payload_size(args.package), enabled=not args.json) as advance:
            report = verify_package(args.package, trusted=trusted, progress=advance)
    except PackageFormatError as exc:
        return _unreadable(args, str(exc))
    if args.json:
        console.print_json(report.to_json())
    else:
        print_report(report)
    return report.exit_status


def _unreadable(args: argparse.Namespace, reason: str) -> int:
    if args.json:
        check = {"step": "bag-declaration", "ok": False, "detail": reason}
        console.print_json({"valid": False, "trusted": False, "items": 0, "events": 0, "checks": [check]})
    else:
        console.error(f"无法读取封存包 cannot read the package: {reason}")
    return EXIT_UNREADABLE


def print_report(report: VerificationReport, *, failures_only: bool = False) -> None:
    out = console.stdout
    out.print(f"校验 verifying [bold]{report.package}[/]: {report.items} items, {report.events} custody events")
    for check in report.checks:
        if failures_only and check.ok:
            continue
        mark = "[green]✓ 通过 ok[/]" if check.ok else "[red]✗ 失败 FAILED[/]"
        step = check.step
        out.print(f" {step.number:>2}. {step.title_zh} {step.title_en}: {mark}", highlight=False)
        out.print(f"     {check.detail}", markup=False, highlight=False, soft_wrap=True)
    out.print(VERDICTS[report.exit_status], soft_wrap=True)
