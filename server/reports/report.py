"""The court package's report, shaped like an extraction record and item list (电子数据提取笔录 / 电子数据清单).

Simplified Chinese first, English beside it. Per item: category, file format, size, SHA-256 integrity value,
capture time and place each with its source, collectors and the device; then each item's chain of custody; then
the log anchor and how to verify offline. The same facts feed the HTML (``render_html``) and the PDF (``pdf``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evidence.checkpoint import SignedNote
from evidence.custody import CustodyEvent
from evidence.report import ACTION_LABELS, KIND_LABELS

TIME_SOURCE_LABELS = {
    "gnss": "卫星授时 GNSS",
    "camera-clock-corrected": "设备时钟（已校正）camera clock, corrected",
    "camera-clock": "设备时钟 camera clock",
    "file-name": "文件名 file name",
    "file-mtime": "文件修改时间 file time",
    "device-rtc": "设备时钟 device clock",
    "gateway-clock": "网关时钟 gateway clock",
    "browser-clock": "浏览器时钟 browser clock",
    "manual": "人工录入 manual",
}
PLACE_SOURCE_LABELS = {
    "exif-gps": "照片GPS EXIF GPS",
    "device-gnss": "设备定位 device GNSS",
    "gateway-gnss-track": "网关定位轨迹 gateway GNSS track",
    "browser": "浏览器定位 browser",
    "manual": "人工录入 manual",
}


@dataclass(frozen=True)
class ReportItem:
    number: int
    name: str
    kind: str
    media_type: str
    size: int
    sha256: str
    captured_at: datetime | None
    time_source: str | None
    location: dict[str, Any] | None
    collectors: str
    device: str
    events: Sequence[CustodyEvent]


@dataclass(frozen=True)
class CaseReport:
    case_number: str
    case_title: str
    unit: str
    stage: str
    package_id: str
    exported_at: datetime
    exported_by: str
    items: Sequence[ReportItem]
    checkpoint: SignedNote
    server_key_id: str


def time_text(item: ReportItem) -> str:
    if item.captured_at is None:
        return "未知 unknown"
    return f"{item.captured_at.isoformat()}（{TIME_SOURCE_LABELS.get(item.time_source or '', item.time_source)}）"


def place_text(item: ReportItem) -> str:
    if item.location is None:
        return "未知 unknown"
    where = f"{item.location['lat']:.6f}, {item.location['lon']:.6f}"
    source = PLACE_SOURCE_LABELS.get(item.location.get("source") or "", item.location.get("source"))
    return f"{where}（{source}）"


def render_html(report: CaseReport) -> str:
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>电子数据提取笔录 {_e(report.case_number)}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em}"
        "table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #555;padding:4px;"
        "font-size:12px;vertical-align:top}th{background:#eee}code{word-break:break-all}</style></head><body>",
        "<h1>电子数据提取笔录 · 电子数据清单<br><small>Evidence extraction record and item list</small></h1>",
        _case_table(report),
        _item_table(report),
        _custody(report),
        _anchor(report),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _case_table(report: CaseReport) -> str:
    rows = [
        ("案件编号 Case number", report.case_number),
        ("案件名称 Case", report.case_title),
        ("办案单位 Unit", report.unit),
        ("办案阶段 Stage", report.stage),
        ("封存包编号 Package id", report.package_id),
        ("导出时间 Exported at", report.exported_at.isoformat()),
        ("导出人 Exported by", report.exported_by),
    ]
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _item_table(report: CaseReport) -> str:
    head = (
        "序号 No.",
        "文件名 File",
        "类别 Category",
        "文件格式 Format",
        "大小（字节）Size",
        "完整性校验值 SHA-256",
        "提取时间及来源 Time (source)",
        "提取地点及来源 Place (source)",
        "提取人 Collectors",
        "设备 Device",
    )
    rows = [
        (
            i.number,
            i.name,
            KIND_LABELS.get(i.kind, i.kind),
            i.media_type,
            f"{i.size:,}",
            f"<code>{i.sha256}</code>",
            time_text(i),
            place_text(i),
            i.collectors,
            i.device,
        )
        for i in report.items
    ]
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if str(cell).startswith('<code>') else _e(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return (
        "<h2>电子数据清单 Item list</h2><table><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + f"</tr>{body}</table>"
    )


def _custody(report: CaseReport) -> str:
    parts = ["<h2>保管链 Chain of custody</h2>"]
    for item in report.items:
        parts.append(
            f"<h3>{item.number}. {_e(item.name)}</h3><table><tr><th>#</th><th>时间 Time (UTC)</th>"
            "<th>操作 Action</th><th>操作人/设备 Actor</th><th>签名 Signer</th></tr>"
        )
        for event in item.events:
            actor = " / ".join(str(v) for v in event.actor.values() if v)
            parts.append(
                f"<tr><td>{event.seq}</td><td>{_e(event.at)}</td>"
                f"<td>{_e(ACTION_LABELS.get(event.action, event.action))}</td><td>{_e(actor)}</td>"
                f"<td><code>{event.signer[:16]}…</code></td></tr>"
            )
        parts.append("</table>")
    return "".join(parts)


def _anchor(report: CaseReport) -> str:
    head = report.checkpoint.checkpoint
    return (
        "<h2>日志锚定与校验 Log anchor and verification</h2>"
        f"<p>日志 Log <code>{_e(head.origin)}</code>，规模 size {head.size}，"
        f"根哈希 root <code>{head.root.hex()}</code>；"
        f"服务器签名公钥 server key id <code>{report.server_key_id}</code>。</p>"
        "<p>离线校验 Verify offline: <code>fieldproof verify 本封存包.zip --trust 服务器公钥.pub</code>"
        "（公钥见封存包 keys/ 目录，须与检察机关公布的公钥一致 the key in keys/ must match the one the procuratorate "
        "publishes）。</p>"
    )
