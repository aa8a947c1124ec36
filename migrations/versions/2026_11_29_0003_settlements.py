"""settlements: statements, closed months, decisions, notes, the bureau's lines; a month index on meals

Written from autogenerate output and reviewed by hand: plain SQLAlchemy types, constraints named by the
convention. ``settlement_statements`` is unique per canteen and month and holds the canonical bytes and hash once
closed (a check constraint ties the two to the closed state); ``settlement_closed_months`` and
``settlement_decisions`` are insert-only by design (one row per closed month, one final decision per meal).
``meals`` gets ``(service_date, canteen_id)`` for the whole programme's month; one canteen's month already has
``ix_meals_canteen_day`` and voids ``ix_meals_refers_to``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "settlement_statements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("computed_hash", sa.String(length=64), nullable=True),
        sa.Column("checked_at", _TS, nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", _TS, nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.CheckConstraint(
            "(state = 'closed') = (content_hash IS NOT NULL AND body IS NOT NULL)",
            name=op.f("ck_settlement_statements_closed_has_content"),
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'reviewed', 'closed')", name=op.f("ck_settlement_statements_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["canteen_id"], ["canteens.id"], name=op.f("fk_settlement_statements_canteen_id_canteens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statements")),
        sa.UniqueConstraint("canteen_id", "month", name=op.f("uq_settlement_statements_canteen_id_month")),
    )
    op.create_index("ix_settlement_statements_month_state", "settlement_statements", ["month", "state"], unique=False)

    op.create_table(
        "settlement_closed_months",
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("closed_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["canteen_id"], ["canteens.id"], name=op.f("fk_settlement_closed_months_canteen_id_canteens")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_settlement_closed_months_statement_id_settlement_statements"),
        ),
        sa.PrimaryKeyConstraint("canteen_id", "month", name=op.f("pk_settlement_closed_months")),
        sa.UniqueConstraint("statement_id", name=op.f("uq_settlement_closed_months_statement_id")),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("origin_month", sa.String(length=7), nullable=True),
        sa.Column("amount", _BIGINT, nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "(kind = 'correction') = (origin_month IS NOT NULL)",
            name=op.f("ck_settlement_lines_origin_for_corrections"),
        ),
        sa.CheckConstraint("kind IN ('construction', 'correction')", name=op.f("ck_settlement_lines_kind_known")),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_settlement_lines_statement_id_settlement_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_lines")),
        sa.UniqueConstraint("statement_id", "line_no", name=op.f("uq_settlement_lines_statement_id_line_no")),
    )
    op.create_table(
        "settlement_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("check_key", sa.String(length=160), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("noted_by", sa.String(length=128), nullable=False),
        sa.Column("noted_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_settlement_notes_statement_id_settlement_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_notes")),
        sa.UniqueConstraint("statement_id", "check_key", name=op.f("uq_settlement_notes_statement_id_check_key")),
    )
    op.create_table(
        "settlement_decisions",
        sa.Column("meal_id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("origin_month", sa.String(length=7), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("bulk_code", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", _TS, nullable=False),
        sa.CheckConstraint("decision IN ('accepted', 'rejected')", name=op.f("ck_settlement_decisions_decision_known")),
        sa.ForeignKeyConstraint(
            ["canteen_id"], ["canteens.id"], name=op.f("fk_settlement_decisions_canteen_id_canteens")
        ),
        sa.ForeignKeyConstraint(["meal_id"], ["meals.meal_id"], name=op.f("fk_settlement_decisions_meal_id_meals")),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["settlement_statements.id"],
            name=op.f("fk_settlement_decisions_statement_id_settlement_statements"),
        ),
        sa.PrimaryKeyConstraint("meal_id", name=op.f("pk_settlement_decisions")),
    )
    op.create_index(
        "ix_settlement_decisions_canteen_origin", "settlement_decisions", ["canteen_id", "origin_month"], unique=False
    )
    op.create_index(
        op.f("ix_settlement_decisions_statement_id"), "settlement_decisions", ["statement_id"], unique=False
    )

    # The whole programme's month (every canteen): a range on service_date.
    op.create_index("ix_meals_service_date_canteen", "meals", ["service_date", "canteen_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_meals_service_date_canteen", table_name="meals")

    op.drop_table("settlement_decisions")
    op.drop_table("settlement_notes")
    op.drop_table("settlement_lines")
    op.drop_table("settlement_closed_months")

    op.drop_table("settlement_statements")
