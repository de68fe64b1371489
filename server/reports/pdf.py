"""The report as PDF (reportlab). Chinese text uses the Adobe CID font STSong-Light, which PDF readers supply
themselves: no font file is shipped or needed."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from evidence.report import ACTION_LABELS, KIND_LABELS
from server.reports.report import CaseReport, place_text, time_text

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
BODY_STYLE = ParagraphStyle("body", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
TITLE_STYLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=20, spaceAfter=8)
HEADING_STYLE = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4)


def render_pdf(report: CaseReport) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"电子数据提取笔录 {report.case_number}",
    )
    document.build(_story(report))
    return buffer.getvalue()


def _p(text: object) -> Paragraph:
    return Paragraph(str(text).replace("&", "&amp;").replace("<", "&lt;"), BODY_STYLE)


def grid_table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    table = Table([[_p(cell) for cell in row] for row in rows], colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _story(report: CaseReport) -> list[Any]:
    head = report.checkpoint.checkpoint
    case_rows = [
        ["项目 Field", "内容 Value"],
        ["案件编号 Case number", report.case_number],
        ["案件名称 Case", report.case_title],
        ["办案单位 Unit", report.unit],
        ["办案阶段 Stage", report.stage],
        ["封存包编号 Package id", report.package_id],
        ["导出时间 Exported at", report.exported_at.isoformat()],
        ["导出人 Exported by", report.exported_by],
    ]
    story: list[Any] = [
        Paragraph("电子数据提取笔录 · 电子数据清单 Evidence extraction record and item list", TITLE_STYLE),
        grid_table(case_rows, [60 * mm, 200 * mm]),
        Spacer(1, 6),
        Paragraph("电子数据清单 Item list", HEADING_STYLE),
        _items_table(report),
    ]
    for item in report.items:
        story.append(Paragraph(f"{item.number}. {item.name}：保管链 chain of custody", HEADING_STYLE))
        rows = [["#", "时间 Time (UTC)", "操作 Action", "操作人/设备 Actor", "签名 Signer"]]
        rows += [
            [
                str(e.seq),
                e.at,
                ACTION_LABELS.get(e.action, e.action),
                " / ".join(str(v) for v in e.actor.values() if v),
                e.signer[:16] + "…",
            ]
            for e in item.events
        ]
        story.append(grid_table(rows, [10 * mm, 55 * mm, 40 * mm, 90 * mm, 45 * mm]))
    story.append(Paragraph("日志锚定与校验 Log anchor and verification", HEADING_STYLE))
    story.append(
        _p(
            f"日志 Log {head.origin}，规模 size {head.size}，根哈希 root {head.root.hex()}；"
            f"服务器公钥 server key id {report.server_key_id}。离线校验 verify offline: "
            "fieldproof verify <package.zip> --trust <server.pub>"
        )
    )
    return story


def _items_table(report: CaseReport) -> Table:
    rows = [
        [
            "序号 No.",
            "文件名 File",
            "类别 Category",
            "格式 Format",
            "大小 Size",
            "SHA-256",
            "提取时间及来源 Time",
            "提取地点及来源 Place",
            "提取人 Collectors",
        ]
    ]
    rows += [
        [
            str(i.number),
            i.name,
            KIND_LABELS.get(i.kind, i.kind),
            i.media_type,
            f"{i.size:,}",
            i.sha256,
            time_text(i),
            place_text(i),
            i.collectors,
        ]
        for i in report.items
    ]
    widths = [12 * mm, 35 * mm, 22 * mm, 22 * mm, 18 * mm, 50 * mm, 40 * mm, 40 * mm, 25 * mm]
    return grid_table(rows, widths)
