"""campaign: the same numbers as CSV (for Excel) and as a printable report (HTML with print CSS, or PDF).

CSV: UTF-8 with a byte order mark (Excel then reads the Chinese right), one header row whose every cell is the
Chinese label, a space, and the column's stable key (``单位代码 unit``, ``阶段·线索 stage.clue``): people read the
first part, programs the last word. One row per unit, then the totals (unit ``*``, name ``合计``).

Report: Simplified Chinese first, English beside it; the PDF uses the court report's font and table helpers
(``server.reports.pdf``).
"""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from server.campaign.schemas import CampaignOut, Counts
from server.cases.deadlines import CHINA_TIME
from server.cases.schemas import DOMAINS
from server.cases.workflow import STAGES
from server.reports.pdf import BODY_STYLE, HEADING_STYLE, TITLE_STYLE, grid_table

STAGE_LABELS = {
    "clue": "线索",
    "filed": "立案",
    "investigation": "调查取证",
    "recommendation": "诉前程序",
    "follow-up": "跟踪问效",
    "litigation": "提起诉讼",
    "enforcement": "执行监督",
    "closed": "结案",
}
DOMAIN_LABELS = {
    "air": "大气污染",
    "water": "水污染",
    "land": "土地与土壤",
    "forest": "森林资源",
    "mineral": "矿产资源",
    "wetland": "湿地",
    "wildlife": "野生动物",
    "other": "其他",
}
SCALAR_COLUMNS = (
    ("clues_received", "受理线索"),
    ("recommendations_issued", "发出检察建议"),
    ("recommendations_answered", "已回复/公告期满"),
    ("recommendations_overdue", "逾期未回复"),
    ("items_collected", "收集证据"),
    ("items_verified", "已校验证据"),
    ("exceedances", "超标预警"),
)
TOTAL_CODE, TOTAL_NAME = "*", "合计"


def columns() -> list[tuple[str, str]]:
    """(key, Chinese label) of every CSV column, in order."""
    return [
        ("unit", "单位代码"),
        ("name", "单位名称"),
        ("cases", "案件数"),
        *((f"domain.{d}", f"领域·{DOMAIN_LABELS[d]}") for d in DOMAINS),
        *((f"stage.{s}", f"阶段·{STAGE_LABELS[s]}") for s in STAGES),
        *SCALAR_COLUMNS,
    ]


def _values(unit: str, name: str, counts: Counts) -> list[Any]:
    return [
        unit,
        name,
        counts.cases,
        *(counts.by_domain[d] for d in DOMAINS),  # type: ignore[index]
        *(counts.by_stage[s] for s in STAGES),
        *(getattr(counts, key) for key, _label in SCALAR_COLUMNS),
    ]


def _rows(out: CampaignOut) -> list[list[Any]]:
    rows = [_values(row.unit, row.name, row) for row in out.units]
    rows.append(_values(TOTAL_CODE, TOTAL_NAME, out.totals))
    return rows


def render_csv(out: CampaignOut) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f"{label} {key}" for key, label in columns()])
    writer.writerows(_rows(out))
    return "\ufeff".encode() + buffer.getvalue().encode()


def _period_text(out: CampaignOut) -> str:
    first = out.filters.from_.isoformat() if out.filters.from_ else "不限 open"
    last = out.filters.to.isoformat() if out.filters.to else "不限 open"
    domain = DOMAIN_LABELS.get(out.filters.domain or "", "全部领域 all domains")
    return f"统计期间 Period：{first} 至 {last}（北京时间 China time）；领域 Domain：{domain}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_PRINT_CSS = (
    "body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif;margin:1.5em;color:#111}"
    "table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #555;padding:3px 5px;"
    "font-size:12px;text-align:right}th{background:#eee;text-align:center}td.name{text-align:left}"
    "tr.total td{font-weight:bold;background:#f6f6f6}small{color:#555}"
    "@media print{@page{size:A4 landscape;margin:12mm}body{margin:0}th{background:#eee!important;"
    "-webkit-print-color-adjust:exact;print-color-adjust:exact}tr{break-inside:avoid}}"
)


def render_html(out: CampaignOut, *, title: str, generated_at: datetime) -> str:
    head = "".join(f"<th>{_e(label)}<br><small>{_e(key)}</small></th>" for key, label in columns())
    body = []
    for row in _rows(out):
        css = " class='total'" if row[0] == TOTAL_CODE else ""
        cells = "".join(f"<td{' class=name' if i < 2 else ''}>{_e(v)}</td>" for i, v in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    when = generated_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_PRINT_CSS}</style></head><body>"
        f"<h1>{_e(title)}<br><small>Campaign report</small></h1>"
        f"<p>{_e(_period_text(out))}</p><p>生成时间 Generated：{when}（北京时间）</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "<p><small>逾期：截至生成时间已超过回复期或公告期且案件未进入下一阶段。超标预警为现场读数与国家标准的比较，"
        "仅供参考。Overdue: expired at the time of generation and not met. Exceedances are indicative.</small></p>"
        "</body></html>\n"
    )


def render_pdf(out: CampaignOut, *, title: str, generated_at: datetime) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=8 * mm, rightMargin=8 * mm, topMargin=10 * mm, bottomMargin=10 * mm
    )
    document.title = title
    header = [f"{label}\n{key}" for key, label in columns()]
    widths = [16 * mm, 30 * mm] + [(281 - 46) / (len(header) - 2) * mm] * (len(header) - 2)
    when = generated_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
    story: list[Any] = [
        Paragraph(_e(title) + " Campaign report", TITLE_STYLE),
        Paragraph(_e(_period_text(out)) + f"；生成时间 Generated：{when}", BODY_STYLE),
        Spacer(1, 4),
        Paragraph("各单位统计 By unit", HEADING_STYLE),
        grid_table([header, *_rows(out)], widths),
    ]
    document.build(story)
    return buffer.getvalue()
