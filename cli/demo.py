"""``ruyi demo``: the whole system on one machine, on the embedded SQLite database (the README's first command).

(Over 600 lines: one script read top to bottom, seeding, provisioning, the child processes and ``tap``.)

``ruyi demo [--canteen N]`` migrates the database in ``$RUYI_DATA_DIR`` (``./data``), seeds it once (the ten
canteens 如意食堂一号店…十号店 with menus, a few hundred elders with made-up names and made-up ID numbers that pass
the check character, categories for some, a card bound to each, the ``ruyi-city`` rule book, staff accounts whose
passwords are printed on the first run only), registers one terminal for the chosen canteen (its credential is
written once, mode 0600), then runs as child processes: the server, a private pcscd with the vsmartcard ``vpcd``
virtual reader (or, with ``--reader system``, the machine's pcscd and a real reader) and the terminal, which
syncs with the server and prints to a loopback receipt printer whose receipts are decoded into
``data/demo/receipts/``. Ctrl-C (or SIGTERM) stops everything; running it again keeps the data.

``ruyi demo tap [--elder N] [--kind uid|resident_id|social_security] [--confirm]`` from another shell puts one of
demo elder N's cards (:mod:`cli.demo_cards`) on the virtual reader (and, with ``--confirm``, confirms the sale on
the cashier screen as the cashier's Enter would). ``ruyi demo --slot lunch`` makes every hour lunch at the demo
terminal (its config's ``slot_starts``), so the subsidised lunch can be tried at any time of day. When nobody is signed
in at the counter, ``ruyi demo tap`` first signs in the canteen's demo cashier 1001 (:mod:`cli.demo_cashiers`).

Generated secrets (server key, card-key secret, category key) live in ``data/demo/secrets.env`` (mode 0600) and
are made on the first run: nothing secret is in the repository. The virtual reader, its cards, the loopback printer
and the receipt decoder are the package's :mod:`terminal.virtual` (the test suite uses the same ones).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as day_time
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from cli.demo_cards import CARD_KINDS, bind_cards, card_serial, virtual_card
from cli.demo_cashiers import remember_pins, seed_cashiers, sign_in_if_needed

REPO = Path(__file__).resolve().parents[1]

ZONE = ZoneInfo("Asia/Shanghai")
PROGRAMME = "ruyi-city"
RULES_FILE = REPO / "deploy" / "rules" / "ruyi-city.yaml"
CANTEEN_NUMERALS = "一二三四五六七八九十"
ELDER_COUNT = 300
SEED = 20260101  # the demo data is the same on every machine
STAFF = (("admin", "bureau_admin"), ("operator", "bureau_operator"), ("auditor", "bureau_auditor"))
# (name, price in fen, slot) for every canteen; prices vary a little per canteen
MENU = (
    ("早餐套餐", 400, "breakfast"),
    ("午餐套餐", 1100, "lunch"),
    ("午餐荤素", 1300, "lunch"),
    ("晚餐套餐", 1000, "dinner"),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "秀英桂兰玉珍凤芳淑华建国明德志强永福春梅金宝文海丽娟红霞秋菊家树振兴荣光云翠慧敏俊杰守成长庚"
REGIONS = ("320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115")
CATEGORY_SHARE = (("dibao", 0.08), ("tekun", 0.02), ("disability_severe", 0.04), ("shidu", 0.02), ("youfu", 0.03))


def canteen_code(n: int) -> str:
    return f"ry-{n:02d}"


def canteen_name(n: int) -> str:
    return f"如意食堂{CANTEEN_NUMERALS[n - 1]}号店"


def elder_card_uid(n: int) -> str:
    """Demo elder ``n``'s canteen card: a 7-byte contactless UID (upper-case hex, as the reader reports it)."""
    return card_serial("uid", n)


# --- paths and secrets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPaths:
    data_dir: Path

    @property
    def root(self) -> Path:
        return self.data_dir / "demo"

    @property
    def secrets_env(self) -> Path:
        return self.root / "secrets.env"

    @property
    def card_secret(self) -> Path:
        return self.root / "card-key.secret"

    @property
    def state(self) -> Path:
        """Written while the demo runs: ports and URLs for ``ruyi demo tap``."""
        return self.root / "running.json"

    @property
    def receipts(self) -> Path:
        return self.root / "receipts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def terminal_dir(self, code: str) -> Path:
        return self.root / f"terminal-{code}"


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable only by its owner (mode 0600 from the start, never wider)."""
    from terminal.files import write_atomic  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode(), mode=0o600)


def load_secrets(paths: DemoPaths) -> dict[str, str]:
    """The demo's server secrets, made on the first run (random, never in the repository)."""
    if not paths.secrets_env.exists():
        values = {
            "RUYI_SECRET_KEY": secrets.token_urlsafe(32),
            "RUYI_CARD_KEY_SECRET": secrets.token_urlsafe(32),
            "RUYI_CATEGORY_KEY": secrets.token_urlsafe(32),
        }
        _write_private(paths.secrets_env, "".join(f"{k}={v}\n" for k, v in values.items()))
    values = {}
    for line in paths.secrets_env.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip():
            values[key.strip()] = value.strip()
    if not paths.card_secret.exists():
        _write_private(paths.card_secret, values["RUYI_CARD_KEY_SECRET"] + "\n")
    return values


# --- seeding ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoElder:
    number: int
    name: str
    id_number: str
    birth: date
    categories: tuple[str, ...]
    canteen: int


def demo_elders(count: int = ELDER_COUNT) -> list[DemoElder]:
    """Made-up elders, the same on every run: names from common surnames, ID numbers with a valid check character
    (``ruyi.idnum.make_resident_id``), ages 55-99 (a few under 60 show the full-price path)."""
    from ruyi.idnum import Sex, make_resident_id  # noqa: PLC0415

    rng = random.Random(SEED)
    out: list[DemoElder] = []
    taken: set[str] = set()
    today = datetime.now(ZONE).date()
    for n in range(1, count + 1):
        age = rng.choice([56, 58]) if n % 25 == 0 else int(rng.triangular(60, 99, 70))
        birth = date(today.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
        sex = Sex.FEMALE if rng.random() < 0.55 else Sex.MALE
        while True:
            number = make_resident_id(rng.choice(REGIONS), birth, rng.randint(0, 99), sex)
            if number not in taken:
                taken.add(number)
                break
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
        cats = tuple(code for code, share in CATEGORY_SHARE if rng.random() < share)
        out.append(DemoElder(n, rng.choice(SURNAMES) + given, number, birth, cats, (n - 1) % 10 + 1))
    return out


def seed(paths: DemoPaths, *, say: Any = print) -> None:
    """Put the demo data in the database once; a second run finds it and adds only what is missing."""
    from server.config import Settings  # noqa: PLC0415
    from server.db import make_engine, open_session  # noqa: PLC0415

    engine = make_engine(Settings().resolved_database_url)
    try:
        with open_session(engine, write=True) as session:
            ids = _seed_canteens(session)
            added = _seed_elders(session, ids)
            passwords = _seed_staff(session, manager_canteen=ids[1])
            cashiers = seed_cashiers(session, {canteen_code(n): cid for n, cid in ids.items()})
            session.commit()
    finally:
        engine.dispose()
    if cashiers:
        pins = paths.root / "cashier-pins.json"
        _write_private(pins, json.dumps(remember_pins(pins, cashiers), indent=1))
    if added:
        say(f"✓ 演示数据：10 家食堂、{added} 位老人（虚构）/ demo data: 10 canteens, {added} made-up elders")
    for username, role, password in passwords:
        say(f"  账号 / account {username} ({role}) 初始密码（只显示这一次）/ password (shown once): {password}")
    for code, number, username, pin in cashiers:
        say(f"  收银员 / cashier {username}: {code} 工号 / number {number} 密码 / PIN {pin}")


def _seed_canteens(session: Any) -> dict[int, uuid.UUID]:
    """The rule book and the ten canteens with their menus (those missing); their ids by number."""
    from sqlmodel import col, select  # noqa: PLC0415

    from server.auth.principal import SYSTEM  # noqa: PLC0415
    from server.canteens import service as canteens  # noqa: PLC0415
    from server.canteens.tables import Canteen  # noqa: PLC0415
    from server.rules import service as rules  # noqa: PLC0415
    from server.rules.tables import RuleProgramme  # noqa: PLC0415

    if session.get(RuleProgramme, PROGRAMME) is None:
        rules.upload(session, actor=SYSTEM, source=RULES_FILE.read_text(encoding="utf-8"))
    ids: dict[int, uuid.UUID] = {}
    for n in range(1, 11):
        found = session.exec(select(Canteen).where(col(Canteen.code) == canteen_code(n))).first()
        if found is None:
            found = canteens.create_canteen(
                session,
                actor=SYSTEM,
                code=canteen_code(n),
                name=canteen_name(n),
                programme=PROGRAMME,
                address=f"如意市示范街道{n}号",
            )
            for name, price, slot in MENU:
                canteens.create_menu_item(
                    session,
                    actor=SYSTEM,
                    canteen_id=found.id,
                    name=name,
                    price=price + (n % 3) * 50,
                    slot=slot,
                    effective_from=date(2020, 1, 1),
                    effective_to=None,
                )
        ids[n] = found.id
    return ids


def _seed_elders(session: Any, canteen_ids: dict[int, uuid.UUID]) -> int:
    """The demo elders not registered yet, each with a canteen card; how many were added."""
    from sqlmodel import select  # noqa: PLC0415

    from server.auth.principal import SYSTEM  # noqa: PLC0415
    from server.elders import service as elders  # noqa: PLC0415
    from server.elders.tables import Elder  # noqa: PLC0415

    known = dict(session.exec(select(Elder.id_number, Elder.id)).all())
    added = 0
    for person in demo_elders():
        if person.id_number in known:
            bind_cards(session, elder_id=known[person.id_number], n=person.number)  # kinds added since
            continue
        elder = elders.register(
            session,
            actor=SYSTEM,
            name=person.name,
            id_number=person.id_number,
            community=f"示范社区{person.canteen}",
            canteen_id=canteen_ids[person.canteen],
            enrolled_on=date(2026, 1, 1),
            categories=[{"code": c, "valid_from": date(2026, 1, 1), "valid_to": None} for c in person.categories],
        )
        bind_cards(session, elder_id=elder.id, n=person.number)
        added += 1
    return added


def _seed_staff(session: Any, *, manager_canteen: uuid.UUID) -> list[tuple[str, str, str]]:
    """The staff accounts missing: (username, role, first password) of each one made."""
    from sqlmodel import col, select  # noqa: PLC0415

    from server.auth.principal import SYSTEM, Role  # noqa: PLC0415
    from server.auth.service import create_staff  # noqa: PLC0415
    from server.auth.tables import Staff  # noqa: PLC0415

    accounts: list[tuple[str, Role, uuid.UUID | None]] = [(name, Role(role), None) for name, role in STAFF]
    accounts.append(("manager-ry-01", Role.CANTEEN_MANAGER, manager_canteen))
    passwords = []
    for username, role, canteen_id in accounts:
        if session.exec(select(Staff).where(col(Staff.username) == username)).first() is None:
            _, password = create_staff(session, actor=SYSTEM, username=username, role=role, canteen_id=canteen_id)
            passwords.append((username, role.value, password))
    return passwords


@dataclass(frozen=True)
class DemoTerminal:
    terminal_id: str
    canteen_id: str
    code: str
    """The short code the server gave it (``RY-01-1``): its receipt numbers are ``RY-01-1-000001`` and on."""
    credential: Path


def provision_terminal(paths: DemoPaths, canteen: int) -> DemoTerminal:
    """The demo terminal of ``canteen``, registered on the first run (its code asked of the database when a data
    directory from before terminal codes has none written down)."""
    from cli.admin import register_terminal  # noqa: PLC0415

    tdir = paths.terminal_dir(canteen_code(canteen))
    ident = tdir / "terminal.json"
    credential = tdir / "credential"
    if ident.exists() and credential.exists():
        known = json.loads(ident.read_text(encoding="utf-8"))
        code = known.get("code") or _terminal_code(known["terminal_id"])
        return DemoTerminal(known["terminal_id"], known["canteen_id"], code, credential)
    made = register_terminal(canteen_code=canteen_code(canteen), name="演示收银台", out=credential, replace=True)
    tdir.mkdir(parents=True, exist_ok=True)
    ident.write_text(
        json.dumps({"terminal_id": made.terminal_id, "canteen_id": made.canteen_id, "code": made.code}),
        encoding="utf-8",
    )
    return DemoTerminal(made.terminal_id, made.canteen_id, made.code, credential)


def _terminal_code(terminal_id: str) -> str:
    from server.canteens.tables import Terminal  # noqa: PLC0415
    from server.config import Settings  # noqa: PLC0415
    from server.db import make_engine, open_session  # noqa: PLC0415

    engine = make_engine(Settings().resolved_database_url)
    try:
        with open_session(engine, write=False) as session:
            found = session.get(Terminal, uuid.UUID(terminal_id))
            return (found.code if found is not None else None) or ""
    finally:
        engine.dispose()


def write_terminal_files(
    paths: DemoPaths,
    canteen: int,
    *,
    terminal: DemoTerminal,
    server_url: str,
    printer_port: int,
    reader_name: str | None,
    secrets_: dict[str, str],
    slot: str | None = None,
) -> Path:
    """The terminal's config (rewritten each run: the printer's port changes) and, the first time, a starting
    snapshot (rule book and menu, no roster: the first pull brings it).

    ``slot``: a demo-only override, every hour of the day is this meal slot (``slot_starts`` with that slot alone,
    from midnight), so a newcomer trying the demo at night still sees a subsidised lunch."""
    from terminal.config import ReaderConfig, SyncConfig, TerminalConfig, config_toml  # noqa: PLC0415
    from terminal.devices.escpos_printer import PrinterConfig, TcpConnection  # noqa: PLC0415

    tdir = paths.terminal_dir(canteen_code(canteen))
    tdir.mkdir(parents=True, exist_ok=True)
    config_ = TerminalConfig(
        terminal_id=terminal.terminal_id,
        canteen_id=terminal.canteen_id,
        terminal_code=terminal.code or None,
        canteen_name=canteen_name(canteen),
        data_dir=Path("."),
        snapshot_path=Path("snapshot.json"),
        card_key_secret_file=paths.card_secret,
        reader=ReaderConfig(name=reader_name),
        printer=PrinterConfig(connection=TcpConnection(host="127.0.0.1", port=printer_port)),
        **({"slot_starts": {slot: day_time(0, 0)}} if slot else {}),
        sync=SyncConfig(
            server_url=server_url,
            credential_file=Path(terminal.credential.name),
            push_delay_s=0.2,
            push_interval_s=10,
            pull_interval_s=60,
            timeout_s=5,
            backoff_max_s=10,
        ),
    )
    config = tdir / "terminal.toml"
    config.write_text("# written by `ruyi demo` at each start\n" + config_toml(config_), encoding="utf-8")
    (tdir / "screen.toml").write_text("speak = false\n", encoding="utf-8")
    snapshot = tdir / "snapshot.json"
    if not snapshot.exists():
        from ruyi.rules import parse_rulebook  # noqa: PLC0415
        from terminal.snapshot import build_snapshot, write_snapshot  # noqa: PLC0415

        write_snapshot(
            snapshot,
            build_snapshot(
                created_at=datetime.now(ZONE),
                rules=parse_rulebook(RULES_FILE.read_text(encoding="utf-8")),
                elders=[],
                menu=[],
                card_secret=secrets_["RUYI_CARD_KEY_SECRET"].encode(),
                category_key=secrets_["RUYI_CATEGORY_KEY"].encode(),
            ),
        )
    return config


# --- the running demo ------------------------------------------------------------------------------------------


class ReceiptWriter:
    """Takes every job the loopback printer receives, decodes it and writes it as text (and the raw bytes)."""

    def __init__(self, directory: Path) -> None:
        from terminal.virtual.printer import LoopbackPrinter  # noqa: PLC0415

        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.printer = LoopbackPrinter().start()
        self._stop = threading.Event()
        self._done = 0
        self._thread = threading.Thread(target=self._run, name="demo-receipts", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.printer.port

    def _run(self) -> None:
        from terminal.virtual.escpos_decode import decode  # noqa: PLC0415

        while not self._stop.wait(0.2):
            jobs = self.printer.jobs
            for job in jobs[self._done :]:
                if not job.closed:
                    break
                self._done += 1
                if not job.payload:
                    continue  # a status query only
                receipt = decode(job.payload)
                stamp = datetime.now(ZONE).strftime("%Y%m%d-%H%M%S")
                base = self.directory / f"{stamp}-{job.number:04d}"
                base.with_suffix(".bin").write_bytes(job.payload)
                lines = [*receipt.texts, *(f"[QR] {q.data}" for q in receipt.qr_codes)]
                if receipt.cuts:
                    lines.append("[cut]")
                base.with_suffix(".txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.printer.stop()


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"{log.stem} exited ({proc.returncode}):\n{tail}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def _system_reader() -> str | None:
    """The first reader the machine's own pcscd lists (asked in a child: libpcsclite picks its socket once)."""
    code = (
        "from smartcard.System import readers\n"
        "r=[str(x) for x in readers() if 'Virtual PCD' not in str(x)]\n"
        "print(r[0] if r else '')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PCSCLITE_CSOCK_NAME"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=10, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    name = done.stdout.strip()
    return name or None


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.paths = DemoPaths(Path(os.environ.get("RUYI_DATA_DIR", "data")).resolve())
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.pcscd: Any = None
        self.pcscd_dir: Path | None = None
        self.receipts: ReceiptWriter | None = None
        self.stop = threading.Event()

    def say(self, text: str) -> None:
        print(text, flush=True)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        log = self.paths.logs / f"{name}.log"
        with log.open("ab") as out:
            # Own session: Ctrl-C reaches only this process, which then stops the children in order.
            proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.children.append((name, proc))
        return proc

    def run(self) -> int:
        args = self.args
        if not 1 <= args.canteen <= 10:
            self.say("✗ --canteen 1..10")
            return 2
        os.environ["RUYI_DATA_DIR"] = str(self.paths.data_dir)
        self.paths.root.mkdir(parents=True, exist_ok=True)
        keys = load_secrets(self.paths)
        os.environ.update(keys)
        os.environ.setdefault("RUYI_ENVIRONMENT", "development")

        from server.config import Settings  # noqa: PLC0415
        from server.db import upgrade  # noqa: PLC0415

        upgrade(Settings())
        self.say(f"✓ 数据库 / database: {self.paths.data_dir / 'ruyi.sqlite3'}")
        seed(self.paths, say=self.say)
        terminal = provision_terminal(self.paths, args.canteen)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            return self._serve(terminal, keys)
        except RuntimeError as exc:
            self.say(f"✗ {exc}")
            return 1
        finally:
            self.shutdown()

    def _on_signal(self, _sig: int, _frame: FrameType | None) -> None:
        self.stop.set()

    def _serve(self, terminal: DemoTerminal, keys: dict[str, str]) -> int:
        args = self.args
        ruyi = str(Path(sys.executable).with_name("ruyi"))
        env = {k: v for k, v in os.environ.items() if k != "PCSCLITE_CSOCK_NAME"}
        server_url = f"http://{args.host}:{args.port}"
        server = self.spawn("server", [ruyi, "server", "--host", args.host, "--port", str(args.port)], env)
        _wait_http(f"{server_url}/api/v1/health", server, self.paths.logs / "server.log", 60)

        reader_name, vpcd_port = self._reader(env)
        self.receipts = ReceiptWriter(self.paths.receipts)
        config = write_terminal_files(
            self.paths,
            args.canteen,
            terminal=terminal,
            server_url=server_url,
            printer_port=self.receipts.port,
            reader_name=reader_name,
            secrets_=keys,
            slot=args.slot,
        )
        screen = f"http://{args.host}:{args.screen_port}"
        term = self.spawn(
            "terminal",
            [ruyi, "terminal", "--config", str(config), "--host", args.host, "--port", str(args.screen_port)],
            env,
        )
        _wait_http(f"{screen}/api/state", term, self.paths.logs / "terminal.log", 90)
        self._wait_roster(config.parent, term)
        _write_private(
            self.paths.state,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "server_url": server_url,
                    "screen_url": screen,
                    "vpcd_port": vpcd_port,
                    "canteen": args.canteen,
                    "terminal_dir": str(config.parent),
                }
            ),
        )
        self._banner(server_url, screen, config.parent, vpcd_port is not None)
        while not self.stop.wait(0.5):
            for name, proc in self.children:
                if proc.poll() is not None:
                    self.say(f"✗ {name} 已退出 / exited ({proc.returncode}); log: {self.paths.logs / (name + '.log')}")
                    return 1
        self.say("正在停止… / stopping…")
        return 0

    def _reader(self, env: dict[str, str]) -> tuple[str | None, int | None]:
        """(reader name for the terminal's config, vpcd port or None with a real reader)."""
        if self.args.reader in ("auto", "system"):
            found = _system_reader()
            if found is not None:
                self.say(f"✓ 读卡器 / card reader: {found}")
                return found, None
            if self.args.reader == "system":
                raise RuntimeError("系统 pcscd 没有读卡器 / the system's pcscd lists no reader")
        from terminal.virtual.pcscd import READER_NAME, PrivatePcscd, socket_path  # noqa: PLC0415

        self.pcscd_dir = Path(tempfile.mkdtemp(prefix="ruyi-demo-pcscd-"))  # short: a unix socket path is bounded
        os.environ["PCSCLITE_CSOCK_NAME"] = str(socket_path(self.pcscd_dir))
        env["PCSCLITE_CSOCK_NAME"] = os.environ["PCSCLITE_CSOCK_NAME"]
        self.pcscd = PrivatePcscd(self.pcscd_dir)
        self.pcscd.start()
        self.say(f"✓ 虚拟读卡器 / virtual card reader: {READER_NAME} (pcscd + vpcd, port {self.pcscd.port})")
        return READER_NAME, int(self.pcscd.port)

    def _wait_roster(self, tdir: Path, term: subprocess.Popen[bytes], timeout: float = 90) -> None:
        """Until the terminal's first pull has brought the roster (its sync state has a cursor)."""
        state = tdir / "sync-state.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            if term.poll() is not None:
                raise RuntimeError(f"the terminal exited ({term.returncode}); log: {self.paths.logs / 'terminal.log'}")
            with contextlib.suppress(OSError, ValueError):
                if json.loads(state.read_text(encoding="utf-8")).get("cursor"):
                    return
            time.sleep(0.2)
        if not self.stop.is_set():
            raise RuntimeError("the terminal did not sync with the server in time")

    def _banner(self, server_url: str, screen: str, tdir: Path, virtual: bool) -> None:
        elder = next(e for e in demo_elders() if e.canteen == self.args.canteen)
        lines = [
            "",
            f"如意食堂演示已启动 / Ruyi demo is running — {canteen_name(self.args.canteen)}",
            f"  收银屏 / cashier screen:   {screen}/",
            f"  顾客屏 / elder display:    {screen}/display",
            f"  接口文档 / API docs:       {server_url}/docs",
            f"  小票 / receipts:           {self.paths.receipts}/",
            f"  终端账本 / terminal ledger: {tdir / 'ledger.sqlite3'}",
            f"  日志 / logs:               {self.paths.logs}/",
        ]
        if virtual:
            lines += [
                "  刷卡（另开一个终端）/ tap a card (from another shell):",
                f"    .venv/bin/ruyi demo tap --elder {elder.number}            # 老人编号 1..{ELDER_COUNT}",
                f"    .venv/bin/ruyi demo tap --elder {elder.number} --confirm  # 并确认收款 / and confirm",
                f"    .venv/bin/ruyi demo tap --elder {elder.number} --kind social_security  # 社保卡",
            ]
        lines += ["按 Ctrl-C 停止（数据保留）/ Ctrl-C stops (the data stays)", ""]
        self.say("\n".join(lines))

    def shutdown(self) -> None:
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.say(f"{name} 未及时退出，强制结束 / did not stop in time: killed")
                    proc.kill()
                    proc.wait(5)
        self.children.clear()
        if self.pcscd is not None:
            self.pcscd.stop()
            self.pcscd = None
        if self.pcscd_dir is not None:
            shutil.rmtree(self.pcscd_dir, ignore_errors=True)
            self.pcscd_dir = None
        if self.receipts is not None:
            self.receipts.stop()
            self.receipts = None
        self.paths.state.unlink(missing_ok=True)


# --- ruyi demo tap ---------------------------------------------------------------------------------------------


def run_tap(args: argparse.Namespace) -> int:
    from terminal.virtual.vpcd import Tap  # noqa: PLC0415

    paths = DemoPaths(Path(os.environ.get("RUYI_DATA_DIR", "data")).resolve())
    try:
        running = json.loads(paths.state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print("✗ 演示没有在运行（bash scripts/start.sh）/ the demo is not running", file=sys.stderr)
        return 1
    if running.get("vpcd_port") is None:
        print("✗ 演示使用真实读卡器：请刷真实的卡 / the demo uses a real reader: tap a real card", file=sys.stderr)
        return 1
    if not 1 <= args.elder <= ELDER_COUNT:
        print(f"✗ --elder 1..{ELDER_COUNT}", file=sys.stderr)
        return 2
    elder = demo_elders()[args.elder - 1]
    screen = running["screen_url"]
    signed = sign_in_if_needed(screen, paths.root / "cashier-pins.json", canteen_code(int(running["canteen"])))
    if signed is not None:
        print(signed, file=sys.stderr if signed.startswith("✗") else sys.stdout)
        if signed.startswith("✗"):
            return 1
    before = _sale_marker(screen)
    tap = Tap(virtual_card(args.kind, elder.number), int(running["vpcd_port"]))
    try:
        deadline = time.monotonic() + 10
        while _sale_marker(screen) == before and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        tap.remove()
    state = httpx.get(f"{screen}/api/state", timeout=5).json()
    print(f"✓ 已刷卡（{args.kind}）：演示老人 {elder.number} / tapped demo elder {elder.number}'s {args.kind} card")
    if args.confirm:
        r = httpx.post(f"{screen}/api/sale/confirm", json={"method": args.method}, timeout=15)
        if r.status_code != 200:
            print(f"✗ 确认失败 / confirm refused: {r.text}", file=sys.stderr)
            return 1
        state = r.json().get("state", state)
        print("✓ 已确认收款 / sale confirmed")
    if args.json:
        print(json.dumps(state, ensure_ascii=False))
    return 0


def _sale_marker(screen: str) -> str:
    """Something that changes when the cashier screen shows a new tap."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        state = httpx.get(f"{screen}/api/state", timeout=2).json()
        return json.dumps([state.get("sale_no"), state.get("notice")], sort_keys=True, ensure_ascii=False)
    return ""


# --- command line ----------------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="the whole system on this machine, with demo data / 演示")
    demo.add_argument("--canteen", type=int, default=1, help="the demo terminal's canteen, 1..10 (default 1)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=int(os.environ.get("RUYI_PORT", "8000")), help="server port")
    demo.add_argument("--screen-port", type=int, default=8600, help="the terminal's screens")
    demo.add_argument(
        "--reader",
        choices=("auto", "virtual", "system"),
        default="virtual",
        help="virtual: a private pcscd + vpcd (default); system: the machine's pcscd and a real reader; "
        "auto: a real reader when one is plugged in, else virtual",
    )
    demo.add_argument(
        "--slot",
        choices=("breakfast", "lunch", "dinner"),
        help="demo only: every hour is this meal slot (e.g. lunch, to see a subsidised lunch at night)",
    )
    demo.set_defaults(handler=lambda a: Demo(a).run())
    dsub = demo.add_subparsers(dest="demo_command", metavar="COMMAND")
    tap = dsub.add_parser("tap", help="tap a demo elder's card on the virtual reader / 模拟刷卡")
    tap.add_argument("--elder", type=int, default=1, help=f"demo elder 1..{ELDER_COUNT} (default 1)")
    tap.add_argument(
        "--kind",
        choices=CARD_KINDS,
        default="uid",
        help="which of the elder's cards: canteen card (uid, default), "
        "resident ID card (resident_id) or social security card (social_security)",
    )
    tap.add_argument("--confirm", action="store_true", help="then confirm the sale (Enter on the cashier screen)")
    tap.add_argument("--method", default="cash", choices=("cash", "wechat", "alipay"))
    tap.add_argument("--json", action="store_true", help="print the cashier screen's state as JSON")
    tap.set_defaults(handler=run_tap)
