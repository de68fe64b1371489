"""``fieldproof demo``: the whole journey on this machine, from simulated devices to a verified court package.

Starts the server (SQLite and local folders by default) on a free port; files a case with a site geofence and a
visit through the API, as a case system would; runs simulated devices (an HJ 212 monitor on a pty with a GPS
receiver, an MQTT monitor through a broker, a body camera's card whose clock is off); listens, imports, enrolls
the gateway and syncs; verifies the case on the server; exports the court package and verifies it offline; then
tampers with a copy and shows verification catching it. Progress goes to stderr; the summary to stdout (Simplified
Chinese first, English beside), or one JSON object with ``--json``. Exit 0 only when every step succeeded.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.errors import InputError
from evidence.verify import VerificationReport
from fieldproof import console
from fieldproof.commands.verify import print_report
from fieldproof.demo.accounts import PASSWORD, USERS

if TYPE_CHECKING:
    from fieldproof.demo.journey import Journey


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "demo",
        help="演示：从设备到法庭证据包 demo: devices to a verified court package",
        description="Run the whole journey on this machine: a server on a free local port, a case with a site and "
        "a visit, simulated monitors (serial HJ 212 with GPS, MQTT) and a body camera, listen, import, enroll, "
        "sync, verify on the server, export the court package, verify it offline, and catch a tampered copy. "
        "Needs no external service (SQLite; Mosquitto on 127.0.0.1:1883 if it runs, else an embedded broker). "
        "Exit 0 when every step succeeded, 1 otherwise.",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where to put the demo's files (default: ./demo-output/run-<time>)"
    )
    parser.add_argument("--serve", action="store_true", help="keep the server running until Ctrl-C")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the summary)")
    parser.add_argument(
        "--database-url", metavar="URL", help="the server's database (default: SQLite inside the workdir)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir or Path("demo-output") / datetime.now().strftime("run-%Y%m%d-%H%M%S")
    if workdir.exists() and any(workdir.iterdir()):
        raise InputError(f"{workdir} is not empty; give an empty or new --workdir")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()
    # Imported here: the journey pulls in the server and the gateway, which other commands should not wait for.
    from fieldproof.demo.journey import Journey  # noqa: PLC0415

    journey = Journey(workdir, database_url=args.database_url, progress=_progress)
    _progress(f"fieldproof 演示 demo — 工作目录 working directory: {workdir}")
    try:
        ok = journey.run_steps()
        summary = _summary(journey, ok)
        if args.json:
            console.stdout.print_json(json.dumps(summary, ensure_ascii=False))
        else:
            _print(summary, journey.tamper_report)
        if ok and args.serve:
            _serve(journey)
    finally:
        journey.close()
    return 0 if ok else 1


def _progress(text: str) -> None:
    console.stderr.print(text, markup=False, highlight=False, soft_wrap=True)


def _summary(journey: Journey, ok: bool) -> dict[str, Any]:
    failed = next((s for s in journey.steps if s.ok is False), None)
    return {
        "ok": ok,
        "failed_step": None if failed is None else {"name": failed.name, "title": failed.title, "why": failed.detail},
        "workdir": str(journey.workdir),
        "server": journey.url,
        "field_app": {
            "url": f"{journey.url}/app/",
            "available": True,
            "logins": [{"username": u, "password": PASSWORD, "role": r} for u, r, _d in USERS],
        },
        "steps": [
            {"name": s.name, "ok": s.ok, "seconds": round(s.seconds, 2), "detail": s.detail} for s in journey.steps
        ],
        **journey.summary,
    }


def _say(text: str, *, markup: bool = True) -> None:
    console.stdout.print(text, markup=markup, soft_wrap=True)


def _print(summary: dict[str, Any], tamper_report: VerificationReport | None) -> None:
    say = _say
    if not summary["ok"]:
        failed = summary["failed_step"] or {}
        say(f"\n[bold red]演示失败 DEMO FAILED[/] 步骤 step “{failed.get('title')}”:")
        say(f"   {failed.get('why')}", markup=False)
        say(f"   文件 files: {summary['workdir']} (server.log)", markup=False)
        return
    case = summary.get("case", {})
    say(f"\n[bold]案件 Case[/] {case.get('number')} — 洛河排污口非法排放 (伊川县人民检察院 · 洛阳市人民检察院)")
    say(f"   MQTT 代理 broker: {summary.get('broker')}", markup=False)
    say("\n[bold]各设备证据 Evidence per device[/]")
    for device, facts in summary.get("devices", {}).items():
        kinds = ", ".join(f"{k} ×{n}" for k, n in facts["kinds"].items())
        say(
            f"   {device}: {facts['items']} 证据项 items ({kinds}) · {facts['readings']} 读数 readings · "
            f"{facts['exceedances']} 超标 exceedances",
            markup=False,
        )
    totals = summary.get("totals", {})
    say(
        f"   合计 total: {totals.get('items')} items, {totals.get('readings')} readings, "
        f"{totals.get('exceedances')} exceedances",
        markup=False,
    )
    exceedances = summary.get("exceedances", [])
    say(f"\n[bold]超标（指示性，非法律认定）Exceedances (indicative, not a legal finding)[/]: {len(exceedances)}")
    worst: dict[tuple[str, str], dict[str, Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    for alert in exceedances:
        key = (alert["device"], alert["code"])
        counts[key] = counts.get(key, 0) + 1
        if key not in worst or (alert["ratio"] or 0) > (worst[key]["ratio"] or 0):
            worst[key] = alert
    for key, alert in worst.items():
        zh, en = alert["message_zh"].split("；")[0], alert["message_en"].split(";")[0]
        say(f"   {key[0]} ×{counts[key]}, 最高 highest: {zh} — {en}", markup=False)
    flags = summary.get("flags", [])
    say(f"\n[bold yellow]需要注意 Flagged[/]: {len(flags)}")
    for flag in flags:
        say(f"   ⚑ {flag['zh']} — {flag['en']}", markup=False)
    package = summary.get("package", {})
    tamper = summary.get("tamper", {})
    say("\n[bold]法庭证据包 Court package[/]")
    say(f"   {package.get('path')}", markup=False)
    say(
        f"   离线校验通过 verified offline: {package.get('items')} items, {package.get('events')} custody events",
        markup=False,
    )
    say(f"   报告 report: {package.get('report_html')} ({package.get('report_pdf')})", markup=False)
    say(f"   自己校验 check it yourself: {package.get('verify_command')}", markup=False)
    say(
        f"   篡改副本被发现 a tampered copy ({tamper.get('file')}, manifests rewritten) is caught by: "
        f"{', '.join(tamper.get('caught_by', []))}",
        markup=False,
    )
    if tamper_report is not None:
        print_report(tamper_report, failures_only=True)
    app = summary["field_app"]
    say("\n[bold]下一步 What to open next[/]")
    say(
        f"   API 文档 API docs: {summary['server']}/api/docs  (仅在 --serve 时运行 only while --serve runs)",
        markup=False,
    )
    say(
        f"   现场应用 field app: {app['url']}  (仅在 --serve 时运行 only while --serve runs; docs/field-app.md)",
        markup=False,
    )
    logins = ", ".join(f"{login['username']} ({login['role']})" for login in app["logins"])
    say(f"   演示登录 demo logins: {logins}; 密码 password: {PASSWORD}", markup=False)
    say(f"   工作目录 files: {summary['workdir']}", markup=False)
    say("\n[bold green]演示完成 Demo complete[/]: every step succeeded.")


def _serve(journey: Journey) -> None:
    _progress(
        f"服务器运行中 the server runs at {journey.url}: 现场应用 field app {journey.url}/app/, "
        f"API docs {journey.url}/api/docs; Ctrl-C 停止 to stop"
    )
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    while not stop.is_set():
        if journey.server is not None and journey.server.poll() is not None:
            _progress(f"服务器已退出 the server exited with status {journey.server.returncode}")
            return
        stop.wait(1.0)
    _progress("停止服务器 stopping the server")
