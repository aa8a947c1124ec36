"""canteen_offline_policy: each canteen's own offline policy (hours without sync, countdown), null = server default

Two nullable columns on ``canteens``: existing canteens keep the server-wide ``RUYI_SYNC_OFFLINE_HOURS`` and
``RUYI_SYNC_WARN_MINUTES`` until the bureau sets their own.

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


def upgrade() -> None:
    op.add_column("canteens", sa.Column("offline_hours", sa.Integer(), nullable=True))
    op.add_column("canteens", sa.Column("offline_warn_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN on both databases (SQLite >= 3.35): a batch copy of ``canteens`` would
    # drop the table that so many others refer to.
    for column in ("offline_warn_minutes", "offline_hours"):
        op.execute(f"ALTER TABLE canteens DROP COLUMN {column}")
