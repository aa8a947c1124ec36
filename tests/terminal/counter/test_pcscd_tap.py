"""Taps on virtual cards through the real pcscd (vpcd) reach the counter: a committed meal and a decoded receipt;
and the ``ruyi terminal`` process shows a tap's quote and stops cleanly on SIGTERM."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from terminal.counter import Counter, Sale
from terminal.ledger import Ledger
from terminal.snapshot import write_snapshot
from terminal.virtual.pcscd import READER_NAME
from terminal.virtual.printer import LoopbackPrinter
from terminal.virtual.vpcd import CardSlot, SocialSecurityCard, UidCard
from tests.terminal.conftest import StartWatcher
from tests.terminal.counter.conftest import printed
from tests.terminal.counter.world import CARD_SECRET, OLD, snapshot_data

REPO = Path(__file__).resolve().parents[3]


def test_virtual_card_tap_to_committed_meal_and_receipt(
    start_watcher: StartWatcher, vcard: CardSlot, counter: Counter, ledger: Ledger, loopback: LoopbackPrinter
) -> None:
    watcher = start_watcher()
    assert OLD.ssc is not None
    vcard.tap(SocialSecurityCard(OLD.ssc))
    sale = counter.on_reader_event(watcher.next_card_event())
    assert isinstance(sale, Sale) and sale.card_kind == "social_security" and sale.quote.subsidy == 800
    result = counter.confirm(sale, "cash", "c01")
    assert result.committed and result.printed and result.record is not None
    assert ledger.integrity_check() and ledger.get(result.record.meal_id) == result.record
    (receipt,) = printed(loopback)
    assert receipt.line("就餐人").text.endswith("张*丰")
    assert [q.data for q in receipt.qr_codes] == [str(result.record.meal_id)]


def test_ruyi_terminal_process(tmp_path: Path, vcard: CardSlot, card_secret: bytes, loopback: LoopbackPrinter) -> None:
    assert card_secret == CARD_SECRET
    write_snapshot(tmp_path / "snapshot.json", snapshot_data())
    (tmp_path / "secret").write_bytes(CARD_SECRET)
    config = tmp_path / "terminal.toml"
    config.write_text(
        f"""
terminal_id = "T01"
canteen_id = "canteen-01"
canteen_name = "如意食堂鼓楼店"
data_dir = "data"
snapshot_path = "snapshot.json"
card_key_secret_file = "secret"
reader_name = "{READER_NAME}"
timezone = "Asia/Shanghai"
sign_in = false  # this process shows the quote of a tap on stdout; sign-in is tested on the screens
# the process runs on the real clock: lunch all day, so the expected quote holds at any hour
[slot_starts]
lunch = 00:00:00
[printer]
connection = {{ kind = "tcp", host = "127.0.0.1", port = {loopback.port} }}
""",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "terminal", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None and proc.stderr is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()

    def wait_line(containing: str) -> str:
        while True:
            line = lines.get(timeout=20)
            if containing in line:
                return line

    try:
        wait_line("已启动")
        wait_line("读卡器已就绪")
        assert OLD.uid is not None
        vcard.tap(UidCard(bytes.fromhex(OLD.uid)))
        shown = wait_line("刷卡：")
        assert "张*丰" in shown and "应付 ¥3.00" in shown
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        wait_line("终端已停止")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = proc.stderr.read()
    for secret_word in (OLD.elder.name, OLD.id_number, OLD.uid, "张*丰", "dibao"):
        assert secret_word not in log
    assert (tmp_path / "data" / "escpos-cache").is_dir()
