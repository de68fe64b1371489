"""Clues: where a case at stage clue came from (insert-only, with the triggers that enforce it); idempotent
responses keep the headers that name what was created (a tus upload's Location).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db import immutability_ddl

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("place_name", sa.String(length=500), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        sa.UniqueConstraint("submitted_by", "reference"),
    )
    op.create_index(op.f("ix_clues_source"), "clues", ["source"], unique=False)
    op.create_index(op.f("ix_clues_unit_id"), "clues", ["unit_id"], unique=False)
    for statement in immutability_ddl(op.get_bind().dialect.name, "clues"):
        op.execute(statement)
    with op.batch_alter_table("idempotent_responses") as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("clues are evidence of where a case came from: never dropped by a migration")
