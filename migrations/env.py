"""Alembic environment: the same scripts for SQLite and PostgreSQL.

The connection comes from ``config.attributes["connection"]`` (``ruyi db upgrade``, the tests), else from
``config.attributes["url"]``, else from the server settings (``RUYI_DATABASE_URL`` / ``RUYI_DATA_DIR``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

import server.tables
from server.config import Settings
from server.db import make_engine

config = context.config
target_metadata = server.tables.metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or Settings().resolved_database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `ruyi db upgrade`")
run_migrations_online()
