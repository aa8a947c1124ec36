"""settlement_reviewer_id: the reviewer's staff id on a statement (four eyes: whoever reviews does not close)

One nullable column on ``settlement_statements``. Statements reviewed before it keep their reviewer by username
(``reviewed_by``: unique, never renamed), which the four-eyes rule falls back to.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlement_statements", sa.Column("reviewed_by_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN on both databases (SQLite >= 3.35), as 0005 does.
    op.execute("ALTER TABLE settlement_statements DROP COLUMN reviewed_by_id")
