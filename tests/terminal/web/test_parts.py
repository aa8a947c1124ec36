"""The screens' parts without a browser: spoken amounts (espeak-ng writing a WAV), the screen settings file, and
``ruyi terminal`` serving the pages on the port it is given."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import httpx
import pytest

from ruyi.pricing import Quote
from terminal.virtual.printer import LoopbackPrinter
from terminal.web.settings import ScreenSettings, ScreenSettingsError, load_screen_settings, screen_settings_for
from terminal.web.speech import EspeakAnnouncer, spoken_amount, spoken_text
from tests.terminal.web.conftest import write_config

REPO = Path(__file__).resolve().parents[3]


def _quote(price: int, subsidy: int) -> Quote:
    return Quote(
        price=price,
        subsidy=subsidy,
        elder_pays=price - subsidy,
        operating_subsidy=0,
        subsidised=subsidy > 0,
        service_date=date(2025, 6, 10),
        age=85,
        programme="p",
        rule_version=None,
        tiers=(),
        reasons=(),
        subsidised_today=0,
        per_day_limit=None,
    )


def test_spoken_amounts() -> None:
    assert spoken_amount(300) == "3元"
    assert spoken_amount(1150) == "11元5角"
    assert spoken_amount(1005) == "10元零5分"
    assert spoken_amount(1234, "en") == "12.34 yuan"
    assert spoken_text(_quote(1100, 800)) == "您好，本餐11元，补贴8元，请付3元。"
    assert spoken_text(_quote(1100, 0)) == "您好，本餐11元，请付11元。"
    assert spoken_text(_quote(1100, 800), "en") == "The meal is 11.00 yuan. Subsidy 8.00 yuan. Please pay 3.00 yuan."


def test_espeak_ng_writes_the_mandarin_announcement(tmp_path: Path) -> None:
    announcer = EspeakAnnouncer(voice="cmn", wav_dir=tmp_path)
    announcer.announce(spoken_text(_quote(1100, 800)))
    announcer.wait()
    wav = (tmp_path / "announce-1.wav").read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert len(wav) > 20_000  # a couple of seconds of speech, not an empty file


def test_screen_settings(tmp_path: Path) -> None:
    assert screen_settings_for(tmp_path / "terminal.toml") == ScreenSettings()
    (tmp_path / "screen.toml").write_text('port = 8700\nspeak = true\nwav_dir = "speech"\nlanguage = "en"\n')
    settings = screen_settings_for(tmp_path / "terminal.toml")
    assert (settings.host, settings.port, settings.speak, settings.language) == ("127.0.0.1", 8700, True, "en")
    assert settings.wav_dir == tmp_path / "speech"
    (tmp_path / "bad.toml").write_text('speak = "maybe"\ncolour = 1\n')
    with pytest.raises(ScreenSettingsError) as refused:
        load_screen_settings(tmp_path / "bad.toml")
    assert {p.path for p in refused.value.problems} == {"speak", "colour"}


def test_ruyi_terminal_serves_the_screens(tmp_path: Path, loopback: LoopbackPrinter) -> None:
    config = write_config(tmp_path, loopback.port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "terminal", "--config", str(config), "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for out_line in stdout:
            lines.put(out_line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while "收银屏幕" not in (line := lines.get(timeout=30)):
            pass
        url = line.split()[1].rstrip("/")
        assert url.startswith("http://127.0.0.1:")
        page = httpx.get(url + "/", timeout=5)
        assert page.status_code == 200 and "/static/cashier.js" in page.text
        state = httpx.get(url + "/api/state", timeout=5).json()
        assert state["canteen"] == "如意食堂鼓楼店" and state["mode"] == "idle"
        assert state["status"]["server"]["text"] == "未连接服务器/离线"
        assert httpx.get(url + "/display", timeout=5).status_code == 200
        refused = httpx.post(url + "/api/sale/confirm", json={}, timeout=5)
        assert refused.status_code == 422 and refused.json()["error"] == "msg.no_sale"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
