"""Early warning: case limit choices and alert episodes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 13:40:00

``cases.limits`` and ``cases.auto_clue`` (the grade per standard a case compares readings with; whether each
exceedance episode opens a clue) and the episode columns of ``alerts``. Only columns are added (``ALTER TABLE ADD
COLUMN`` on SQLite too), so the insert-only triggers of ``alerts`` stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALERT_COLUMNS = (
    ("device", sa.String(length=100)),
    ("kind", sa.String(length=16)),
    ("started_at", sa.DateTime(timezone=True)),
    ("last_at", sa.DateTime(timezone=True)),
    ("last_reading_id", sa.Integer()),
    ("peak_reading_id", sa.Integer()),
    ("episode_readings", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch.add_column(sa.Column("auto_clue", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("alerts") as batch:
        for name, type_ in _ALERT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        for name, _type in reversed(_ALERT_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("auto_clue")
        batch.drop_column("limits")
