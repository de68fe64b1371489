"""The human-readable custody report of a package (report.html): item list, custody timeline, log anchor.

Laid out like the 电子数据清单 and 提取笔录 that Chinese electronic-evidence rules ask for: every item with
category, file format, size and integrity value (SHA-256), then each item's custody events. Static HTML with
inline styles and no scripts, so it opens and prints anywhere, offline, years from now.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from evidence.checkpoint import SignedNote
from evidence.custody import CustodyEvent
from evidence.keys import PublicKey
from evidence.package import ItemRecord

KIND_LABELS = {
    "photo": "照片 Photo",
    "video": "视频 Video",
    "audio": "音频 Audio",
    "document": "文件 Document",
    "sensor-batch": "监测数据 Sensor data",
    "note": "笔记 Note",
}
ACTION_LABELS = {
    "acquired": "提取 Acquired",
    "imported": "导入 Imported",
    "uploaded": "上传 Uploaded",
    "received": "接收 Received",
    "verified": "校验 Verified",
    "accessed": "调阅 Accessed",
    "exported": "导出 Exported",
    "transferred": "移交 Transferred",
    "sealed": "封存 Sealed",
    "annotated": "批注 Annotated",
    "derived": "派生 Derived",
}
_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #555;padding:4px 6px;text-align:left;vertical-align:top;font-size:13px}
th{background:#e8e8e8}code{font-size:12px;word-break:break-all}h2{margin-top:1.5em}
"""

__all__ = ["render_report"]


def render_report(
    *,
    package_id: str,
    items: Sequence[ItemRecord],
    events: Sequence[CustodyEvent],
    checkpoint: SignedNote,
    keys: Sequence[PublicKey],
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        "<title>电子证据封存报告 Evidence package report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>电子证据封存报告<br><small>Evidence package report</small></h1>",
        f"<p>封存包编号 Package id: <code>{_e(package_id)}</code></p>",
        _item_table(items),
        _timelines(items, events),
        _anchor(checkpoint, keys),
        _how_to_verify(),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _item_table(items: Sequence[ItemRecord]) -> str:
    header = (
        "<h2>电子数据清单 Item list</h2><table><tr><th>序号 No.</th><th>文件名 File name</th>"
        "<th>类别 Category</th><th>格式 Format</th><th>大小（字节） Size (bytes)</th>"
        "<th>完整性校验值 SHA-256</th></tr>"
    )
    rows = [
        f"<tr><td>{number}</td><td>{_e(item.name)}</td><td>{_e(KIND_LABELS.get(item.kind, item.kind))}</td>"
        f"<td>{_e(item.media_type)}</td><td>{item.size:,}</td><td><code>{item.sha256}</code></td></tr>"
        for number, item in enumerate(items, start=1)
    ]
    return header + "".join(rows) + "</table>"


def _timelines(items: Sequence[ItemRecord], events: Sequence[CustodyEvent]) -> str:
    parts = ["<h2>保管链 Chain of custody</h2>"]
    for number, item in enumerate(items, start=1):
        parts.append(f"<h3>{number}. {_e(item.name)}</h3><table>")
        parts.append("<tr><th>#</th><th>时间（UTC） Time</th><th>操作 Action</th><th>操作人/设备 Actor</th>")
        parts.append("<th>地点 Place</th><th>签名密钥 Signer</th></tr>")
        for event in (e for e in events if e.item_id == item.item_id):
            actor = " / ".join(str(v) for v in event.actor.values() if v)
            place = "—" if event.place is None else f"{event.place['lat']}, {event.place['lon']}"
            parts.append(
                f"<tr><td>{event.seq}</td><td>{_e(event.at)}</td>"
                f"<td>{_e(ACTION_LABELS.get(event.action, event.action))}</td><td>{_e(actor)}</td>"
                f"<td>{_e(place)}</td><td><code>{event.signer[:16]}…</code></td></tr>"
            )
        parts.append("</table>")
    return "".join(parts)


def _anchor(checkpoint: SignedNote, keys: Sequence[PublicKey]) -> str:
    head = checkpoint.checkpoint
    key_rows = "".join(f"<tr><td>{_e(k.name)}</td><td><code>{k.key_id}</code></td></tr>" for k in keys)
    return (
        "<h2>日志锚定 Log anchor</h2>"
        f"<p>日志 Log: <code>{_e(head.origin)}</code>; 事件数 Events in log: {head.size}; "
        f"根哈希 Root: <code>{head.root.hex()}</code></p>"
        "<h3>签名公钥 Signing keys</h3><table><tr><th>名称 Name</th><th>密钥标识 Key id (SHA-256)</th></tr>"
        f"{key_rows}</table>"
    )


def _how_to_verify() -> str:
    return (
        "<h2>如何校验 How to verify</h2>"
        "<p>在任何一台电脑上离线运行 Run offline on any computer: "
        "<code>fieldproof verify 本封存包 --trust 签名公钥.pub</code>。"
        "校验会重新计算每个文件的 SHA-256，检查每条保管记录的签名与链接，以及日志包含证明。"
        " Verification recomputes every file's SHA-256 and checks every custody record's signature and link, "
        "and every log inclusion proof. The file format is described in docs/package-format.md.</p>"
    )
