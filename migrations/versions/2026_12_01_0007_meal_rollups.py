"""meal_elder_days and meal_activity: the live sales summed per canteen, day and elder, and when each terminal
last touched a canteen-month (both kept by intake), filled from the meals

Written from autogenerate output and reviewed by hand: plain SQLAlchemy types, constraints named by the
convention. The primary key ``(canteen_id, service_date, elder_key, terminal_id)`` is what intake's
``INSERT … ON CONFLICT DO UPDATE`` adds to; ``(service_date, canteen_id)`` serves the whole programme's month.
Both tables are filled here from the meals already stored, as ``server.meals.rollups.expected`` and
``expected_activity`` compute them: sales that no void refers to, per the sale's canteen and service date, the
elder id as the record names it (``''`` for walk-ins, who are kept per terminal; named elders have the nil UUID
as terminal); and per sale's canteen and month and sending terminal the latest receipt of a sale or of a record
referring to one. An upgraded database therefore settles the same as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The elder id in the record's canonical JSON, the nil UUID as each database stores a UUID, a date's month.
_DIALECT = {
    "postgresql": (
        "m.canonical::json ->> 'elder_id'",
        "'00000000-0000-0000-0000-000000000000'::uuid",
        "date_trunc('month', service_date)::date",
    ),
    "sqlite": (
        "json_extract(m.canonical, '$.elder_id')",
        "'00000000000000000000000000000000'",
        "date(service_date, 'start of month')",
    ),
}

_BACKFILL = """
INSERT INTO meal_elder_days
    (canteen_id, service_date, elder_key, terminal_id, sales, subsidised, price, subsidy, elder_pays)
SELECT canteen_id, service_date, elder_key, terminal_id,
       count(*), sum(subsidised), sum(price), sum(subsidy), sum(elder_pays)
FROM (
    SELECT m.canteen_id, m.service_date,
           CASE WHEN m.identified_by = 'walk_in' THEN '' ELSE coalesce({elder}, '') END AS elder_key,
           CASE WHEN m.identified_by = 'walk_in' THEN m.terminal_id ELSE {nil} END AS terminal_id,
           CASE WHEN m.subsidised THEN 1 ELSE 0 END AS subsidised, m.price, m.subsidy, m.elder_pays
    FROM meals m
    WHERE m.kind = 'sale'
      AND NOT EXISTS (SELECT 1 FROM meals v WHERE v.kind = 'void' AND v.refers_to = m.meal_id)
) live
GROUP BY canteen_id, service_date, elder_key, terminal_id
"""

_BACKFILL_ACTIVITY = """
INSERT INTO meal_activity (canteen_id, month, terminal_id, received_at)
SELECT canteen_id, {month_of}, terminal_id, max(received_at)
FROM (
    SELECT canteen_id, service_date, terminal_id, received_at FROM meals WHERE kind = 'sale'
    UNION ALL
    SELECT s.canteen_id, s.service_date, r.terminal_id, r.received_at
    FROM meals r JOIN meals s ON s.meal_id = r.refers_to AND s.kind = 'sale'
    WHERE r.refers_to IS NOT NULL
) touching
GROUP BY canteen_id, {month_of}, terminal_id
"""


def upgrade() -> None:
    op.create_table(
        "meal_elder_days",
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("elder_key", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        sa.Column("subsidised", sa.Integer(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("subsidy", sa.Integer(), nullable=False),
        sa.Column("elder_pays", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_meal_elder_days_canteen_id_canteens")),
        sa.PrimaryKeyConstraint(
            "canteen_id", "service_date", "elder_key", "terminal_id", name=op.f("pk_meal_elder_days")
        ),
    )
    op.create_index("ix_meal_elder_days_day_canteen", "meal_elder_days", ["service_date", "canteen_id"], unique=False)
    op.create_table(
        "meal_activity",
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_meal_activity_canteen_id_canteens")),
        sa.PrimaryKeyConstraint("canteen_id", "month", "terminal_id", name=op.f("pk_meal_activity")),
    )
    elder, nil, month_of = _DIALECT[op.get_bind().dialect.name]
    op.execute(_BACKFILL.format(elder=elder, nil=nil))
    op.execute(_BACKFILL_ACTIVITY.format(month_of=month_of))


def downgrade() -> None:
    op.drop_table("meal_activity")
    op.drop_index("ix_meal_elder_days_day_canteen", table_name="meal_elder_days")
    op.drop_table("meal_elder_days")
