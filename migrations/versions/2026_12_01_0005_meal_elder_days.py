"""meal_elder_days: the live sales summed per canteen, day and elder (kept by intake), filled from the meals

Written from autogenerate output and reviewed by hand: plain SQLAlchemy types, constraints named by the
convention. The primary key ``(canteen_id, service_date, elder_key, terminal_id)`` is what intake's
``INSERT … ON CONFLICT DO UPDATE`` adds to; ``(service_date, canteen_id)`` serves the whole programme's month.
The table is filled here from the meals already stored, as ``server.meals.rollups.expected`` sums them: sales
that no void refers to, per the sale's canteen and service date, the elder id as the record names it (``''``
for walk-ins, who are kept per terminal; named elders have the nil UUID as terminal). An upgraded database
therefore settles the same from the rollups as from the meals.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The elder id in the record's canonical JSON, and the nil UUID as each database stores a UUID.
_DIALECT = {
    "postgresql": ("m.canonical::json ->> 'elder_id'", "'00000000-0000-0000-0000-000000000000'::uuid"),
    "sqlite": ("json_extract(m.canonical, '$.elder_id')", "'00000000000000000000000000000000'"),
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
    elder, nil = _DIALECT[op.get_bind().dialect.name]
    op.execute(_BACKFILL.format(elder=elder, nil=nil))


def downgrade() -> None:
    op.drop_index("ix_meal_elder_days_day_canteen", table_name="meal_elder_days")
    op.drop_table("meal_elder_days")
