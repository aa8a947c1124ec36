"""initial: registry (elders, cards, canteens, menus, terminals), staff and tokens, rule books, audit log

Written from autogenerate output and reviewed by hand: plain SQLAlchemy types (no model imports, so later model
changes cannot rewrite history), every constraint named by the convention in server/base.py, the partial unique
index for one active card binding (SQLite and PostgreSQL both support WHERE on an index), and triggers that make
the audit log append-only on both databases.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 15:42:37.778870+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER audit_log_no_{op} BEFORE {OP} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)
_APPEND_ONLY_PG_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$
"""


def _audit_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for name in ("update", "delete"):
            op.execute(_APPEND_ONLY_SQLITE.format(op=name, OP=name.upper()))


def _drop_audit_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        for name in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_log_no_{name}")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=128), nullable=False),
        sa.Column("token_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_canteen_id"), "audit_log", ["canteen_id"], unique=False)
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"], unique=False)
    _audit_append_only()
    op.create_table(
        "canteens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canteens")),
        sa.UniqueConstraint("code", name=op.f("uq_canteens_code")),
    )
    op.create_table(
        "elder_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elder_imports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_elder_imports_sha256")),
    )
    op.create_table(
        "rule_programmes",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_rule_programmes")),
    )
    op.create_table(
        "elders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("id_tail", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("community", sa.String(length=128), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("canteen_id", sa.Uuid(), nullable=True),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_elders_canteen_id_canteens")),
        sa.ForeignKeyConstraint(["import_id"], ["elder_imports.id"], name=op.f("fk_elders_import_id_elder_imports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elders")),
        sa.UniqueConstraint("id_number", name=op.f("uq_elders_id_number")),
    )
    op.create_index(op.f("ix_elders_canteen_id"), "elders", ["canteen_id"], unique=False)
    op.create_index(op.f("ix_elders_community"), "elders", ["community"], unique=False)
    op.create_index(op.f("ix_elders_id_tail"), "elders", ["id_tail"], unique=False)
    op.create_index(op.f("ix_elders_import_id"), "elders", ["import_id"], unique=False)
    op.create_index(op.f("ix_elders_name"), "elders", ["name"], unique=False)
    op.create_table(
        "menu_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("slot IN ('breakfast', 'lunch', 'dinner')", name=op.f("ck_menu_items_slot_known")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_menu_items_price_not_negative")),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_menu_items_canteen_id_canteens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_items")),
    )
    op.create_index(op.f("ix_menu_items_canteen_id"), "menu_items", ["canteen_id"], unique=False)
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme"], ["rule_programmes.code"], name=op.f("fk_rule_versions_programme_rule_programmes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
        sa.UniqueConstraint("programme", "effective_from", name=op.f("uq_rule_versions_programme_effective_from")),
        sa.UniqueConstraint("programme", "version_id", name=op.f("uq_rule_versions_programme_version_id")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_staff_canteen_id_canteens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_username")),
    )
    op.create_table(
        "terminals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(["canteen_id"], ["canteens.id"], name=op.f("fk_terminals_canteen_id_canteens")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminals")),
        sa.UniqueConstraint("credential_hash", name=op.f("uq_terminals_credential_hash")),
    )
    op.create_index(op.f("ix_terminals_canteen_id"), "terminals", ["canteen_id"], unique=False)
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_auth_tokens_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    op.create_index(op.f("ix_auth_tokens_staff_id"), "auth_tokens", ["staff_id"], unique=False)
    op.create_table(
        "cards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("bound_on", sa.Date(), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=256), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('uid', 'resident_id', 'social_security')", name=op.f("ck_cards_kind_known")),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_cards_elder_id_elders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
    )
    op.create_index(op.f("ix_cards_elder_id"), "cards", ["elder_id"], unique=False)
    op.create_index("ix_cards_kind_serial", "cards", ["kind", "serial"], unique=False)
    op.create_index(
        "uq_cards_active_binding",
        "cards",
        ["kind", "serial"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "elder_categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_elder_categories_elder_id_elders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elder_categories")),
    )
    op.create_index(op.f("ix_elder_categories_elder_id"), "elder_categories", ["elder_id"], unique=False)
    op.create_table(
        "elder_status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('enrolled', 'suspended', 'cancelled', 'deceased')",
            name=op.f("ck_elder_status_changes_status_known"),
        ),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_elder_status_changes_elder_id_elders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elder_status_changes")),
    )
    op.create_index(op.f("ix_elder_status_changes_elder_id"), "elder_status_changes", ["elder_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_elder_status_changes_elder_id"), table_name="elder_status_changes")
    op.drop_table("elder_status_changes")
    op.drop_index(op.f("ix_elder_categories_elder_id"), table_name="elder_categories")
    op.drop_table("elder_categories")
    op.drop_index("uq_cards_active_binding", table_name="cards")
    op.drop_index("ix_cards_kind_serial", table_name="cards")
    op.drop_index(op.f("ix_cards_elder_id"), table_name="cards")
    op.drop_table("cards")
    op.drop_index(op.f("ix_auth_tokens_staff_id"), table_name="auth_tokens")
    op.drop_table("auth_tokens")
    op.drop_index(op.f("ix_terminals_canteen_id"), table_name="terminals")
    op.drop_table("terminals")
    op.drop_table("staff")
    op.drop_table("rule_versions")
    op.drop_index(op.f("ix_menu_items_canteen_id"), table_name="menu_items")
    op.drop_table("menu_items")
    op.drop_index(op.f("ix_elders_name"), table_name="elders")
    op.drop_index(op.f("ix_elders_import_id"), table_name="elders")
    op.drop_index(op.f("ix_elders_id_tail"), table_name="elders")
    op.drop_index(op.f("ix_elders_community"), table_name="elders")
    op.drop_index(op.f("ix_elders_canteen_id"), table_name="elders")
    op.drop_table("elders")
    op.drop_table("rule_programmes")
    op.drop_table("elder_imports")
    op.drop_table("canteens")
    _drop_audit_append_only()
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_canteen_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_table("audit_log")
