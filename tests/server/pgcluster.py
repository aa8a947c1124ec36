"""A throwaway PostgreSQL cluster: initdb into a temp dir, start on a free port on 127.0.0.1 with its own socket
dir, stop and delete at the end. As root it runs as the ``postgres`` system user (PostgreSQL refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PgCluster:
    port: int
    user: str = "ruyi"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True)


@contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found (install the postgresql package)")
    root = Path(tempfile.mkdtemp(prefix="ruyi-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, sock, log = root / "data", root / "sock", root / "log"
    subprocess.run([*run_as, "mkdir", str(sock)], check=True)
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "ruyi", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    try:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
            check=True,
            capture_output=True,
        )
        yield PgCluster(port=port)
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
