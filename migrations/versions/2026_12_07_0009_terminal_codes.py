"""terminal_codes: each terminal's number at its canteen and its short code for receipts (``RY01-2``)

Two nullable columns on ``terminals`` and a unique index on ``(canteen_id, number)``. Terminals registered before
are numbered here per canteen in order of registration (ties by id), and given the code registration gives
(``server.canteens.service.terminal_code``: the canteen code in capitals, ``-``, the number). Plain SQL that
SQLite and PostgreSQL both run: a correlated count, ``UPPER`` and ``||``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("terminals", sa.Column("number", sa.Integer(), nullable=True))
    op.add_column("terminals", sa.Column("code", sa.String(length=48), nullable=True))
    op.execute(
        "UPDATE terminals SET number = (SELECT COUNT(*) FROM terminals t"
        " WHERE t.canteen_id = terminals.canteen_id"
        " AND (t.created_at < terminals.created_at OR (t.created_at = terminals.created_at AND t.id <= terminals.id)))"
    )
    op.execute(
        "UPDATE terminals SET code = (SELECT UPPER(c.code) FROM canteens c WHERE c.id = terminals.canteen_id)"
        " || '-' || CAST(number AS VARCHAR(12))"
    )
    op.create_index("uq_terminals_canteen_number", "terminals", ["canteen_id", "number"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_terminals_canteen_number", table_name="terminals")
    # Plain ALTER TABLE … DROP COLUMN on both databases (SQLite >= 3.35), as 0005 does.
    for column in ("code", "number"):
        op.execute(f"ALTER TABLE terminals DROP COLUMN {column}")
