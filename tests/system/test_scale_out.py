"""Scale-out, as deploy/ sets it up: two server processes (the systemd unit's ``uvicorn server.ops.asgi:make_app
--factory``, one worker each) on two loopback ports, one PostgreSQL, and nginx in front with the shipped site file
(TLS with a test certificate; the terminals trust it through ``SSL_CERT_FILE``, as a site with its own CA would
set it in the terminal's environment). Two terminals' sync workers push their meals through nginx while both
processes serve: every meal is on the server exactly once, and both processes took pushes. Then one process stops
and the terminals keep syncing through the other (nginx passes a push on, a push being idempotent)."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.deploy.conftest import need
from tests.deploy.nginxconf import nginx_prefix
from tests.server.pgcluster import free_port, throwaway_cluster
from tests.terminal.sync.conftest import assert_exactly_once
from tests.terminal.sync.live import API, ServerProcess, Site, TerminalSide, register_site, wait_until

PUSH_ROUTE = f"{API}/sync/push"
MEALS_EACH = 40  # per terminal while both processes serve
MEALS_AFTER = 10  # per terminal after one process stopped


class FactoryServer(ServerProcess):
    """The production entry point: uvicorn on the ops factory, one worker, JSON logs into ``server.log``."""

    def start(self, timeout: float = 60.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        env = {**self.env, "RUYI_LOG_FORMAT": "json"}
        argv = [sys.executable, "-m", "uvicorn", "server.ops.asgi:make_app", "--factory", "--workers", "1"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", "--timeout-graceful-shutdown", "5"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, env=env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{self.url}{API}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready in time")

    def pushes_served(self) -> int:
        """Successful pushes this process answered, from its own ``/metrics`` (the latency histogram's count)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        pattern = (
            r"^ruyi_http_request_duration_seconds_count\{"
            rf'method="POST",route="{re.escape(PUSH_ROUTE)}",status="200"\}} (\d+)$'
        )
        found = re.search(pattern, text, re.M)
        return int(found.group(1)) if found else 0

    def logged_pushes(self) -> int:
        """Request log lines (JSON) for successful pushes."""
        count = 0
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("logger") == "ruyi.request" and entry.get("route") == PUSH_ROUTE and entry["status"] == 200:
                count += 1
        return count


class Nginx:
    """nginx in the foreground (our child) on the shipped site file, upstreams pointed at ``ports``."""

    def __init__(self, root: Path, ports: list[int]) -> None:
        self.binary = need("nginx")
        self.root = root
        self.https_port = free_port()
        self.main = nginx_prefix(root, https_port=self.https_port, http_port=free_port(), upstreams=ports)
        self.cert = root / "tls" / "fullchain.pem"
        self.trust = ssl.create_default_context(cafile=str(self.cert))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def start(self) -> None:
        argv = [self.binary, "-c", str(self.main), "-p", str(self.root), "-g", "daemon off;"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else "nginx exited"
            try:
                if httpx.get(f"{self.url}{API}/ready", verify=self.trust, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("nginx did not answer in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def database_url() -> Iterator[str]:
    with throwaway_cluster() as cluster:
        with cluster.admin() as conn:
            conn.execute("CREATE DATABASE scale_out")
        yield cluster.url("scale_out")


def _meals_on_server(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM meals")).scalar_one())
    finally:
        engine.dispose()


def _another_site(first: Site, workdir: Path, code: str) -> Site:
    """A second canteen with the same menu and a terminal, registered by the first site's admin."""
    with httpx.Client(base_url=f"{first.server.url}{API}", headers=first.admin, timeout=30) as c:
        made = c.post("/canteens", json={"code": code, "name": "如意食堂二号店", "programme": "ruyi-city"})
        assert made.status_code == 201, made.text
        canteen_id = made.json()["id"]
        menu = []
        for item in first.menu:
            body = {"name": item.name, "price": item.price, "slot": item.slot, "effective_from": "2020-01-01"}
            r = c.post(f"/canteens/{canteen_id}/menu-items", json=body)
            assert r.status_code == 201, r.text
            menu.append(item.model_copy(update={"id": r.json()["id"]}))
        r = c.post(f"/canteens/{canteen_id}/terminals", json={"name": "收银台1"})
        assert r.status_code == 201, r.text
    credential = workdir / f"credential-{code}"
    credential.write_text(r.json()["credential"] + "\n", encoding="utf-8")
    credential.chmod(0o600)
    return dataclasses.replace(
        first,
        canteen_id=canteen_id,
        terminal_id=r.json()["terminal"]["id"],
        credential_file=credential,
        menu=tuple(menu),
    )


def _wait_synced(sides: list[TerminalSide], meals: int, what: str) -> None:
    wait_until(lambda: all(side.ledger.synced_up_to() == meals for side in sides), what, 60)


def test_two_processes_behind_nginx_store_every_meal_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need("nginx")
    a = FactoryServer(tmp_path / "server-a", database_url)
    b = FactoryServer(tmp_path / "server-b", database_url)
    a.migrate()
    proxy = Nginx(tmp_path / "nginx", [a.port, b.port])
    sides: list[TerminalSide] = []
    try:
        a.launch()
        b.launch()
        a.wait_ready()
        b.wait_ready()
        proxy.start()
        # the terminals trust the site's certificate the standard way (httpx reads SSL_CERT_FILE)
        monkeypatch.setenv("SSL_CERT_FILE", str(proxy.cert))
        first = register_site(a, tmp_path, code="so-01")
        for site in (first, _another_site(first, tmp_path, "so-02")):
            workdir = tmp_path / f"terminal-{site.terminal_id}"
            sides.append(TerminalSide(site, workdir, proxy.url, settings={"timeout_s": 5.0}))
        for side in sides:
            side.worker.start()

        started = time.monotonic()
        for _ in range(MEALS_EACH):
            for side in sides:
                side.sell(1)
        _wait_synced(sides, MEALS_EACH, "the meals synced through nginx")
        took = time.monotonic() - started

        served_a, served_b = a.pushes_served(), b.pushes_served()
        assert served_a > 0 and served_b > 0, (served_a, served_b)  # round robin: both processes took pushes
        assert served_a + served_b >= 2 * MEALS_EACH  # one meal per batch: at least one push per meal
        assert a.logged_pushes() == served_a and b.logged_pushes() == served_b  # and each logged them (JSON)
        assert _meals_on_server(database_url) == 2 * MEALS_EACH

        b.stop()  # one process goes away; nginx sends everything to the other
        for _ in range(MEALS_AFTER):
            for side in sides:
                side.sell(1)
        _wait_synced(sides, MEALS_EACH + MEALS_AFTER, "the meals synced through the process left")
        assert a.pushes_served() >= served_a + 2 * MEALS_AFTER
        assert not any(side.worker.status().upgrade_required for side in sides)
        for side in sides:
            side.worker.stop()
            tally = assert_exactly_once(a, side.ledger)  # ids, seqs, no duplicates, fen sums = the ledger's
            assert tally.rows == MEALS_EACH + MEALS_AFTER
        assert _meals_on_server(database_url) == 2 * (MEALS_EACH + MEALS_AFTER)
        print(f"\n{2 * MEALS_EACH} meals through nginx to 2 processes in {took:.1f}s ({served_a}/{served_b} pushes)")
    finally:
        for side in sides:
            side.close()
        proxy.stop()
        b.stop()
        a.stop()
