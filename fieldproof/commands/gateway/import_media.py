"""``fieldproof gateway import-media``: import a camera's or phone's media as evidence."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from device_gateway.config import load_settings, parse_timezone
from device_gateway.identity import gateway_key
from device_gateway.listen import track_from
from device_gateway.media.derived import after_import
from device_gateway.media.importer import FileResult, ImportOptions, ImportReport, import_media
from device_gateway.media.scan import Found, scan
from device_gateway.spool import Spool
from evidence.errors import InputError
from evidence.metadata.filenames import default_patterns
from fieldproof import console


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "import-media",
        help="导入执法记录仪/手机的照片和视频 import camera media",
        description="Import the photos, videos and recordings under PATH (a mounted camera's DCIM tree or any "
        "folder): each file is copied and hashed in one read pass (the source is only read, never changed), "
        "given a capture time and place with their sources, and signed into custody by the gateway's key. "
        "Importing the same card again adds nothing. Exit status 0 when every file was imported or already "
        "held, 1 when some were rejected (each with its reason), 2 for bad usage. See docs/media.md.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--data", type=Path, metavar="DIR", help="gateway data folder")
    parser.add_argument("--device", metavar="ID", help="the camera's id, when its files do not say")
    parser.add_argument("--visit", metavar="ID", help="the site visit these files belong to")
    parser.add_argument("--tz", metavar="ZONE", help="the camera clock's zone, e.g. Asia/Shanghai (default: config)")
    parser.add_argument(
        "--geotag-copies",
        action="store_true",
        help="also store a copy of each JPEG with the gateway's GNSS position in its EXIF",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    settings = load_settings(args.data)
    zone = parse_timezone(args.tz, "--tz") if args.tz else settings.defaults.timezone
    options = ImportOptions(
        device=args.device,
        visit=args.visit,
        zone=zone,
        geotag_copies=args.geotag_copies,
        patterns=[*settings.media.filename_patterns, *default_patterns()],
        drift_threshold_s=settings.media.drift_threshold_s,
    )
    found = [item for item in scan(args.paths, exclude=settings.data_dir) if isinstance(item, Found)]
    key = gateway_key(settings.data_dir)
    with (
        Spool(settings.data_dir) as spool,
        console.file_progress(
            "导入 importing", len(found), sum(f.size for f in found), enabled=not args.json
        ) as progress,
    ):
        report = import_media(
            args.paths,
            spool=spool,
            key=key,
            options=options,
            track=track_from(spool),
            progress=progress.bytes,
            on_file=progress.file,
        )
        copies = after_import(report, spool=spool, key=key, options=options, now=datetime.now(UTC))
    _output(report, copies, as_json=args.json)
    return 1 if any(r.status == "rejected" for r in report.results) else 0


def _output(report: ImportReport, copies: list[FileResult], *, as_json: bool) -> None:
    if as_json:
        for result in [*report.results, *copies]:
            console.print_json(result.to_json())
        return
    _summary(report, copies)


def _summary(report: ImportReport, copies: list[FileResult]) -> None:
    out = console.stdout
    counts = {
        status: sum(1 for r in report.results if r.status == status) for status in ("imported", "duplicate", "rejected")
    }
    out.print(
        f"导入 imported {counts['imported']} · 重复 duplicate {counts['duplicate']} · "
        f"拒绝 rejected {counts['rejected']} · 地理标记副本 geotagged copies {len(copies)}"
    )
    table = Table(title="导入结果 import results")
    for column in ("文件 file", "状态 status", "时间来源 time source", "位置来源 place source", "标记 flags"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        place = r.location["source"] if r.location else "—"
        table.add_row(Path(r.path).name, r.status, r.time_source or "—", place, "; ".join(r.flags) or (r.reason or ""))
    out.print(table)
    for device, offset in report.offsets.items():
        drift = " (时钟漂移 DRIFT)" if offset.drifting else ""
        out.print(
            f"{device}: camera clock {offset.offset_s:+.1f} s from GNSS time ({offset.samples} files){drift}",
            markup=False,
        )
    for device, gaps in report.gaps.items():
        missing = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps)
        out.print(f"[bold yellow]文件序号缺失 sequence gap[/] {device}: missing {missing} (withheld or deleted?)")
