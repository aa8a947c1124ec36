"""cashier_pins: a cashier's personal number and PIN hash on ``staff``

Two nullable columns on ``staff`` (``cashier_no``, the number typed at a terminal; ``pin_hash``, scrypt of the
PIN with its own salt, ``ruyi.cashier``) and a unique index on ``(canteen_id, cashier_no)``: a number is one
cashier's within a canteen. The role ``cashier`` needs no schema change (``staff.role`` is a string).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("staff", sa.Column("cashier_no", sa.String(length=8), nullable=True))
    op.add_column("staff", sa.Column("pin_hash", sa.String(length=160), nullable=True))
    op.create_index("uq_staff_canteen_cashier_no", "staff", ["canteen_id", "cashier_no"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_staff_canteen_cashier_no", table_name="staff")
    # Plain ALTER TABLE … DROP COLUMN on both databases (SQLite >= 3.35), as 0005 does.
    for column in ("pin_hash", "cashier_no"):
        op.execute(f"ALTER TABLE staff DROP COLUMN {column}")
