"""sync: meals (each terminal record once), meal flags, terminal heads, sync alerts, the registry change log

Written from autogenerate output and reviewed by hand: plain SQLAlchemy types, constraints named by the
convention; ``meals`` is unique on ``meal_id`` (primary key) and on ``(terminal_id, seq)``, indexed for one
canteen-month and for one elder-day; triggers make ``meals`` append-only on both databases (a void is a new
meal); ``sync_clock`` starts with its one row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)

_APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER meals_no_{op} BEFORE {OP} ON meals BEGIN SELECT RAISE(ABORT, 'meals are append-only'); END"
)
_APPEND_ONLY_PG_FUNCTION = """
CREATE FUNCTION meals_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'meals are append-only';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("change_no", _BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_changes")),
    )
    op.create_index("ix_sync_changes_change_no", "sync_changes", ["change_no"], unique=False)
    sync_clock = op.create_table(
        "sync_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", _BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_clock")),
    )
    op.bulk_insert(sync_clock, [{"id": 1, "value": 0}])
    op.create_table(
        "meals",
        sa.Column("meal_id", sa.Uuid(), nullable=False),
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("refers_to", sa.Uuid(), nullable=True),
        sa.Column("elder_id", sa.Uuid(), nullable=True),
        sa.Column("card_kind", sa.String(length=16), nullable=True),
        sa.Column("card_key", sa.String(length=64), nullable=True),
        sa.Column("identified_by", sa.String(length=8), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("menu_item_id", sa.String(length=64), nullable=False),
        sa.Column("payment_method", sa.String(length=8), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("subsidy", sa.Integer(), nullable=False),
        sa.Column("elder_pays", sa.Integer(), nullable=False),
        sa.Column("operating_subsidy", sa.Integer(), nullable=False),
        sa.Column("subsidised", sa.Boolean(), nullable=False),
        sa.Column("rule_version", sa.String(length=64), nullable=True),
        sa.Column("service_time", _TS, nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("terminal_clock", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('sale', 'void', 'reprint')", name=op.f("ck_meals_kind_known")),
        sa.CheckConstraint(
            "price >= 0 AND subsidy >= 0 AND elder_pays >= 0", name=op.f("ck_meals_amounts_not_negative")
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_meals_seq_positive")),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_meals_canteen_id_canteens")),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], name=op.f("fk_meals_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("meal_id", name=op.f("pk_meals")),
        sa.UniqueConstraint("terminal_id", "seq", name=op.f("uq_meals_terminal_id_seq")),
    )
    op.create_index("ix_meals_canteen_day", "meals", ["canteen_id", "service_date"], unique=False)
    op.create_index("ix_meals_elder_day", "meals", ["elder_id", "service_date"], unique=False)
    op.create_index(op.f("ix_meals_refers_to"), "meals", ["refers_to"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER meals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON meals "
            "FOR EACH STATEMENT EXECUTE FUNCTION meals_append_only()"
        )
    else:
        for name in ("update", "delete"):
            op.execute(_APPEND_ONLY_SQLITE.format(op=name, OP=name.upper()))
    op.create_table(
        "sync_alerts",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("meal_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_sync_alerts_canteen_id_canteens")),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], name=op.f("fk_sync_alerts_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_alerts")),
    )
    op.create_index(op.f("ix_sync_alerts_code"), "sync_alerts", ["code"], unique=False)
    op.create_index(op.f("ix_sync_alerts_terminal_id"), "sync_alerts", ["terminal_id"], unique=False)
    op.create_table(
        "sync_terminals",
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("held_through", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("last_push_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["terminal_id"], ["terminals.id"], name=op.f("fk_sync_terminals_terminal_id_terminals")
        ),
        sa.PrimaryKeyConstraint("terminal_id", name=op.f("pk_sync_terminals")),
    )
    op.create_table(
        "meal_flags",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("meal_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_meal_flags_canteen_id_canteens")),
        sa.ForeignKeyConstraint(["meal_id"], ["meals.meal_id"], name=op.f("fk_meal_flags_meal_id_meals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_flags")),
        sa.UniqueConstraint("meal_id", "code", name=op.f("uq_meal_flags_meal_id_code")),
    )
    op.create_index("ix_meal_flags_canteen_day", "meal_flags", ["canteen_id", "service_date"], unique=False)
    op.create_index(op.f("ix_meal_flags_code"), "meal_flags", ["code"], unique=False)


def downgrade() -> None:
    op.drop_table("meal_flags")
    op.drop_table("sync_terminals")
    op.drop_table("sync_alerts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER meals_append_only ON meals")
        op.execute("DROP FUNCTION meals_append_only()")
    op.drop_table("meals")
    op.drop_table("sync_clock")
    op.drop_table("sync_changes")
