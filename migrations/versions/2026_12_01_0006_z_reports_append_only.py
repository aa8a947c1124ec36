"""z_reports_append_only: a terminal's Z-reports, like its meals, are never changed or deleted

Every report a terminal sends is kept (the latest of a day reconciles; the earlier ones are the history), so the
table gets the same triggers as ``meals`` and ``audit_log``: UPDATE, DELETE (and TRUNCATE on PostgreSQL) refused.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = (
    "CREATE TRIGGER z_reports_no_{op} BEFORE {OP} ON z_reports "
    "BEGIN SELECT RAISE(ABORT, 'z_reports are append-only'); END"
)
_PG_FUNCTION = """
CREATE FUNCTION z_reports_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'z_reports are append-only';
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER z_reports_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON z_reports "
            "FOR EACH STATEMENT EXECUTE FUNCTION z_reports_append_only()"
        )
    else:
        for name in ("update", "delete"):
            op.execute(_SQLITE.format(op=name, OP=name.upper()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER z_reports_append_only ON z_reports")
        op.execute("DROP FUNCTION z_reports_append_only()")
    else:
        for name in ("update", "delete"):
            op.execute(f"DROP TRIGGER z_reports_no_{name}")
