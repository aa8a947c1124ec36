"""A real central server for the sync tests (and the catch-up bench): ``ruyi db upgrade``, ``ruyi admin
create-staff`` and ``ruyi server`` as subprocesses on a free loopback port, on SQLite (a file) or PostgreSQL (a
database in a throwaway cluster); then a canteen, a menu and a terminal registered through the API as that admin,
and the terminal's credential in a file only its owner may read.

The server can be killed (SIGKILL) and started again on the same database and port. A terminal side (ledger,
snapshot, worker) is built by :class:`TerminalSide`; meals are walk-ins priced through ``ruyi`` (what is being
tested is the transport, not pricing).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ruyi.meal import MealRecord
from ruyi.pricing import MealRequest, quote
from ruyi.rules import RuleBook, parse_rulebook
from ruyi.sync import MenuItem
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot, build_snapshot, write_snapshot
from terminal.sync import SyncSettings, SyncWorker, read_credential
from tests.server.pgcluster import free_port

REPO = Path(__file__).resolve().parents[3]
RUYI = Path(sys.executable).with_name("ruyi")
SECRET = "sync-test-secret-key-0123456789"
ZONE = ZoneInfo("Asia/Shanghai")
CITY_RULES = (REPO / "deploy" / "rules" / "ruyi-city.yaml").read_text(encoding="utf-8")
CARD_SECRET = b"sync test card-key secret 0123456789"
CATEGORY_KEY = b"sync test category key 0123456789"
API = "/api/v1"


class ServerProcess:
    """``ruyi server`` on ``database_url`` at 127.0.0.1:``port``; :meth:`kill` is SIGKILL, :meth:`start` again."""

    def __init__(self, workdir: Path, database_url: str | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{workdir / 'ruyi.sqlite3'}"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "RUYI_ENVIRONMENT": "test",
            "RUYI_SECRET_KEY": SECRET,
            "RUYI_CARD_KEY_SECRET": CARD_SECRET.decode(),
            "RUYI_CATEGORY_KEY": CATEGORY_KEY.decode(),
            "RUYI_DATA_DIR": str(workdir),
            "RUYI_DATABASE_URL": self.database_url,
        }
        self.log = workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ruyi(self, *args: str) -> str:
        done = subprocess.run(
            [str(RUYI), *args], env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"ruyi {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def migrate(self) -> None:
        self.ruyi("db", "upgrade")

    def create_admin(self, username: str = "admin") -> str:
        out = self.ruyi("admin", "create-staff", "--username", username, "--role", "bureau_admin")
        found = re.search(r"initial password \(shown once\): (\S+)", out)
        assert found, out
        return found.group(1)

    def start(self, timeout: float = 30.0) -> None:
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(RUYI), "server", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{self.url}{API}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not answer in time")

    def kill(self) -> None:
        """SIGKILL, as a power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Site:
    """A canteen with a menu and one terminal, registered on a live server."""

    server: ServerProcess
    admin_token: str
    canteen_id: str
    terminal_id: str
    credential_file: Path
    menu: tuple[MenuItem, ...]
    rules: RuleBook

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.server.url}{API}{path}", headers=self.admin, params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def register_site(server: ServerProcess, workdir: Path, *, code: str = "ry-01") -> Site:
    """Admin login, rule book, canteen, lunch and dinner menu items, a terminal and its credential file."""
    password = server.create_admin(f"admin-{code}")
    base = f"{server.url}{API}"
    with httpx.Client(base_url=base, timeout=30) as c:
        token = _ok(c.post("/auth/login", json={"username": f"admin-{code}", "password": password}))["token"]
        h = {"Authorization": f"Bearer {token}"}
        r = c.post("/rulebooks", headers=h, json={"source": CITY_RULES})
        assert r.status_code in (200, 201, 409), r.text  # already there for a second site
        canteen = _ok(
            c.post("/canteens", headers=h, json={"code": code, "name": "如意食堂", "programme": "ruyi-city"}), 201
        )
        items = []
        for name, price, slot in (("午餐套餐", 1100, "lunch"), ("晚餐套餐", 1000, "dinner")):
            body = {"name": name, "price": price, "slot": slot, "effective_from": "2020-01-01"}
            items.append(_ok(c.post(f"/canteens/{canteen['id']}/menu-items", headers=h, json=body), 201))
        made = _ok(c.post(f"/canteens/{canteen['id']}/terminals", headers=h, json={"name": "收银台1"}), 201)
    cred = workdir / f"credential-{code}"
    cred.write_text(made["credential"] + "\n", encoding="utf-8")
    cred.chmod(0o600)
    menu = tuple(
        MenuItem(id=i["id"], name=i["name"], price=i["price"], slot=i["slot"], valid_from=date(2020, 1, 1))
        for i in items
    )
    return Site(
        server=server,
        admin_token=token,
        canteen_id=canteen["id"],
        terminal_id=made["terminal"]["id"],
        credential_file=cred,
        menu=menu,
        rules=parse_rulebook(CITY_RULES),
    )


@dataclass
class MovableClock:
    """The terminal's clock: the real time plus an offset a test sets (skew), or a fixed time."""

    offset: timedelta = timedelta(0)
    fixed: datetime | None = None

    def __call__(self) -> datetime:
        if self.fixed is not None:
            return self.fixed
        return datetime.now(ZONE) + self.offset


@dataclass
class TerminalSide:
    """The terminal's ledger, snapshot and sync worker for ``site`` in ``workdir``, talking to ``url``."""

    site: Site
    workdir: Path
    url: str
    clock: MovableClock = field(default_factory=MovableClock)
    settings: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(init=False)
    worker: SyncWorker = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger.open(
            self.workdir / "ledger.sqlite3", terminal_id=self.site.terminal_id, canteen_id=self.site.canteen_id
        )
        snap_path = self.workdir / "snapshot.json"
        if not snap_path.exists():
            write_snapshot(snap_path, self.snapshot_data())
        self.snapshot = Snapshot.of(self.snapshot_data())
        self.worker = self.make_worker()

    def snapshot_data(self) -> Any:
        return build_snapshot(
            created_at=datetime.now(ZONE),
            rules=self.site.rules,
            elders=[],
            menu=self.site.menu,
            card_secret=CARD_SECRET,
            category_key=CATEGORY_KEY,
        )

    def make_worker(self, **overrides: Any) -> SyncWorker:
        values: dict[str, Any] = {
            "server_url": self.url,
            "timeout_s": 2.0,
            "backoff_base_s": 0.02,
            "backoff_max_s": 0.2,
            "push_delay_s": 0.0,
            "pull": False,
            "max_batch_records": 1,
        }
        values.update(self.settings)
        values.update(overrides)
        cred = self.site.credential_file
        return SyncWorker(
            ledger=self.ledger,
            settings=SyncSettings(**values),
            credential=lambda: read_credential(cred),
            state_path=self.workdir / "sync-state.json",
            snapshot=self.snapshot,
            snapshot_path=self.workdir / "snapshot.json",
            clock=self.clock,
        )

    def sell(self, n: int, *, slot_item: int = 0) -> list[MealRecord]:
        """``n`` walk-in meals at the terminal's clock (each committed durably in the ledger)."""
        item = self.site.menu[slot_item]
        out = []
        for _ in range(n):
            now = self.clock()
            request = MealRequest(
                canteen_id=self.site.canteen_id,
                slot=item.slot,
                price=item.price,
                service_time=now,
                menu_item_id=item.id,
            )
            q = quote(None, request, [], self.site.rules)
            out.append(
                self.ledger.record_sale(
                    now=now,
                    quote=q,
                    slot=item.slot,
                    menu_item_id=item.id,
                    payment_method="cash",
                    cashier="c1",
                    identified_by="walk_in",
                )
            )
            self.worker.wake()
        return out

    def close(self) -> None:
        self.worker.stop()
        self.ledger.close()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0, every: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
