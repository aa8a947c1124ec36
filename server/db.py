"""The database engine, the per-request session and the migration check.

SQLite (the embedded default) gets WAL, foreign keys and a busy timeout on every connection, and write
requests take the write lock at BEGIN (``BEGIN IMMEDIATE``) so two writers queue instead of failing with
"database is locked" half-way through. PostgreSQL needs none of this.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import Depends, Request
from sqlmodel import Session

from server.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str, *, pool_size: int = 10) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_events(engine)
        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_events(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below (the pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def open_session(engine: sa.Engine, *, write: bool) -> Session:
    """A session; on SQLite a writing one takes the write lock when its transaction begins."""
    session = Session(engine, expire_on_commit=False)
    if write and engine.dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return session


def get_session(request: Request) -> Iterator[Session]:
    engine: sa.Engine = request.app.state.engine
    with open_session(engine, write=request.method not in READ_METHODS) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# -- migrations ---------------------------------------------------------------------------------------------


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    return cfg


class DatabaseNotMigrated(RuntimeError):
    def __init__(self, current: str | None, head: str | None) -> None:
        self.current, self.head = current, head
        super().__init__(
            f"数据库结构不是最新（当前 {current or '空'}，应为 {head}），请先运行 `ruyi db upgrade`。\n"
            f"The database schema is not up to date (at {current or 'nothing'}, expected {head}): "
            "run `ruyi db upgrade` first."
        )


def migration_state(engine: sa.Engine) -> tuple[str | None, str | None]:
    """(revision of the database, head revision of migrations/)."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    return current, head


def check_migrated(engine: sa.Engine) -> None:
    current, head = migration_state(engine)
    if current != head:
        raise DatabaseNotMigrated(current, head)


def upgrade(settings: Settings, revision: str = "head") -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(settings.resolved_database_url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
