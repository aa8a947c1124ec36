"""Backups restore: the central database (SQLite and PostgreSQL) is dumped with deploy/backup/backup-server.sh,
restored with restore-server.sh into a fresh database, and the row counts and content digests agree; a terminal's
ledger backed up with backup-ledger.sh is verified against the server's copy (verify_ledger.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, PYTHON, RUYI, need
from tests.server.pgcluster import PgCluster, throwaway_cluster

BACKUP = DEPLOY / "backup"


def _env(url: str, data_dir: Path, backup_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUYI_")}
    env.update(
        RUYI_DATABASE_URL=url, RUYI_DATA_DIR=str(data_dir), RUYI_BACKUP_DIR=str(backup_dir), RUYI_PYTHON=str(PYTHON)
    )
    return env


def _seeded(url: str, tmp_path: Path) -> dict[str, str]:
    """A migrated database with the demo's registry (canteens, menus, 300 elders, cards, rules, staff, audit)."""
    env = _env(url, tmp_path / "data", tmp_path / "backups")
    (tmp_path / "data").mkdir(exist_ok=True)
    code = "import cli.demo as d, pathlib; d.seed(d.DemoPaths(pathlib.Path('.')), say=lambda _t: None)"
    subprocess.run([str(RUYI), "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([str(PYTHON), "-c", code], env=env, check=True, capture_output=True, cwd=tmp_path)
    return env


def _digest(url: str) -> str:
    done = subprocess.run([str(PYTHON), str(BACKUP / "digest.py"), url], check=True, capture_output=True, text=True)
    return done.stdout


def _backup(env: dict[str, str]) -> Path:
    done = subprocess.run(
        ["bash", str(BACKUP / "backup-server.sh")], env=env, check=True, capture_output=True, text=True
    )
    return Path(done.stdout.strip().splitlines()[-1])


def _restore(backup: Path, target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BACKUP / "restore-server.sh"), str(backup), target],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )


def _counts(digest: str) -> dict[str, int]:
    return {line.split()[0]: int(line.split()[1]) for line in digest.splitlines() if not line.startswith("*")}


def test_sqlite_backup_restores_into_a_fresh_file(tmp_path: Path) -> None:
    need("sqlite3")
    url = f"sqlite:///{tmp_path / 'data' / 'ruyi.sqlite3'}"
    env = _seeded(url, tmp_path)
    backup = _backup(env)
    assert backup.suffix == ".sqlite3" and backup.stat().st_mode & 0o777 == 0o600
    target = tmp_path / "restored.sqlite3"
    done = _restore(backup, f"sqlite:///{target}", env)
    assert done.returncode == 0, done.stderr
    assert "match" in done.stdout
    original, restored = _digest(url), _digest(f"sqlite:///{target}")
    assert original == restored
    counts = _counts(restored)
    # the demo gives each elder three cards: UID, resident ID and social security
    assert counts["elders"] == 300 and counts["canteens"] == 10 and counts["cards"] == 900
    # a damaged backup is refused before anything is restored
    backup.write_bytes(backup.read_bytes()[:-10] + b"0123456789")
    again = _restore(backup, f"sqlite:///{tmp_path / 'again.sqlite3'}", env)
    assert again.returncode != 0 and not (tmp_path / "again.sqlite3").exists()


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    need("pg_dump")
    with throwaway_cluster() as cluster:
        yield cluster


def test_postgres_backup_restores_into_a_fresh_database(pg: PgCluster, tmp_path: Path) -> None:
    with pg.admin() as conn:
        conn.execute("CREATE DATABASE backup_src")
        conn.execute("CREATE DATABASE backup_restored")
    env = _seeded(pg.url("backup_src"), tmp_path)
    backup = _backup(env)
    assert backup.suffix == ".dump"
    done = _restore(backup, pg.url("backup_restored"), env)
    assert done.returncode == 0, done.stderr
    assert "match" in done.stdout
    restored = _digest(pg.url("backup_restored"))
    assert restored == _digest(pg.url("backup_src"))
    counts = _counts(restored)
    assert counts["elders"] == 300 and counts["canteens"] == 10 and counts["alembic_version"] == 1
    # the restored database is usable: at the newest migration
    current = subprocess.run(
        [str(RUYI), "db", "current"], env={**env, "RUYI_DATABASE_URL": pg.url("backup_restored")}, check=False
    )
    assert current.returncode == 0


def test_ledger_backup_is_verified_against_the_server(tmp_path: Path) -> None:
    need("sqlite3")
    from tests.terminal.sync.live import ServerProcess, TerminalSide, register_site  # noqa: PLC0415

    server = ServerProcess(tmp_path / "server")
    server.migrate()
    server.start()
    try:
        site = register_site(server, tmp_path)
        side = TerminalSide(site, tmp_path / "terminal", server.url)
        try:
            side.sell(5)
            assert side.worker.sync_once(pull=False)
            copy = subprocess.run(
                [
                    "bash",
                    str(BACKUP / "backup-ledger.sh"),
                    str(tmp_path / "terminal" / "ledger.sqlite3"),
                    str(tmp_path / "lb"),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            backup = Path(copy.stdout.strip())
            side.sell(2)  # sold and synced after the backup
            assert side.worker.sync_once(pull=False)
        finally:
            side.close()

        def verify(ledger: Path) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(PYTHON), str(BACKUP / "verify_ledger.py"), str(ledger), server.database_url],
                check=False,
                capture_output=True,
                text=True,
            )

        live = verify(tmp_path / "terminal" / "ledger.sqlite3")
        assert live.returncode == 0, live.stderr
        lines = live.stdout.splitlines()
        assert lines[1].split(": ")[1] == lines[2].split(": ")[1]  # the same digest on both sides
        old = verify(backup)
        assert old.returncode == 3 and "older" in old.stderr  # restored from before the last sales: said so
        forged = tmp_path / "forged.sqlite3"
        forged.write_bytes(backup.read_bytes())
        with sqlite3.connect(forged) as conn:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                conn.execute(f'DROP TRIGGER "{name}"')
            conn.execute("UPDATE meals SET hash = 'f' || substr(hash, 2) WHERE seq = 3")
        assert verify(forged).returncode == 1
    finally:
        server.stop()


def test_register_terminal_writes_the_credential_once_owner_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'ruyi.sqlite3'}"
    env = _seeded(url, tmp_path)
    out = tmp_path / "etc" / "T01.credential"
    argv = [str(RUYI), "admin", "register-terminal", "--canteen", "ry-03", "--name", "收银台1", "--out", str(out)]
    done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    credential = out.read_text(encoding="utf-8").strip()
    assert credential and credential not in done.stdout  # written to the file only
    assert "terminal_id = " in done.stdout
    again = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
    assert again.returncode == 1 and out.read_text(encoding="utf-8").strip() == credential
    unknown = subprocess.run(
        [*argv[:4], "nope", *argv[5:-1], str(tmp_path / "x")], env=env, check=False, capture_output=True, text=True
    )
    assert unknown.returncode == 1 and not (tmp_path / "x").exists()
