"""z_reports: the terminals' Z-reports (end of day), every one kept, once per (terminal, day, made_at)

Written from autogenerate output and reviewed by hand: plain SQLAlchemy types, constraints named by the
convention. The unique ``(terminal_id, day, made_at)`` makes a re-sent report a no-op (``INSERT … ON CONFLICT DO
NOTHING``); ``(canteen_id, day)`` serves one canteen's month for the settlement's terminal reconciliation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "z_reports",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("made_at", _TS, nullable=False),
        sa.Column("meals", sa.Integer(), nullable=False),
        sa.Column("voids", sa.Integer(), nullable=False),
        sa.Column("price_total", sa.Integer(), nullable=False),
        sa.Column("subsidy_total", sa.Integer(), nullable=False),
        sa.Column("elder_pays_total", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.Column("chain_head", sa.String(length=64), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_z_reports_canteen_id_canteens")),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], name=op.f("fk_z_reports_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_z_reports")),
        sa.UniqueConstraint("terminal_id", "day", "made_at", name=op.f("uq_z_reports_terminal_id_day_made_at")),
    )
    op.create_index("ix_z_reports_canteen_day", "z_reports", ["canteen_id", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_z_reports_canteen_day", table_name="z_reports")
    op.drop_table("z_reports")
