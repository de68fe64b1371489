"""The demo's users and their published password (light: imported whenever ``fieldproof`` starts)."""

from __future__ import annotations

PASSWORD = "fieldproof-demo"  # noqa: S105 - the demo users' published password
USERS = (
    ("wang", "investigator", "王警官 Wang (调查员 investigator)"),
    ("li", "investigator", "李调查员 Li (调查员 investigator)"),
    ("chen", "evidence_officer", "陈 Chen (证据管理员 evidence officer)"),
    ("zhao", "prosecutor", "赵检察官 Zhao (检察官 prosecutor)"),
)
