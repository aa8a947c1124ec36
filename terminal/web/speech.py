"""Spoken amounts for the elder in Mandarin through espeak-ng (Debian package ``espeak-ng``, voice ``cmn``).

The announcement carries amounts only, never a name or a category. It runs in the background (a subprocess), so a
slow or missing speech engine never holds up the counter; a newer announcement replaces one still speaking.
With ``wav_dir`` set, espeak-ng writes a WAV file instead of playing it (tests, and a site without a speaker).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from ruyi.money import format_yuan
from ruyi.pricing import Quote

log = logging.getLogger(__name__)


def spoken_amount(fen: int, lang: str = "zh") -> str:
    """11.50 yuan as ``11元5角`` (what espeak-ng's Mandarin voice reads well); English as ``11.50 yuan``."""
    if lang == "en":
        return format_yuan(fen).replace("¥", "") + " yuan"
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    text = f"{yuan}元"
    if jiao or cents:
        text += f"{jiao}角" if jiao else "零"
    if cents:
        text += f"{cents}分"
    return text


def spoken_text(q: Quote, lang: str = "zh") -> str:
    """What the elder hears: the meal's price, the subsidy (when there is one) and what to pay."""
    if lang == "en":
        parts = [f"The meal is {spoken_amount(q.price, 'en')}."]
        if q.subsidy:
            parts.append(f"Subsidy {spoken_amount(q.subsidy, 'en')}.")
        parts.append(f"Please pay {spoken_amount(q.elder_pays, 'en')}.")
        return " ".join(parts)
    parts = [f"您好，本餐{spoken_amount(q.price)}"]
    if q.subsidy:
        parts.append(f"补贴{spoken_amount(q.subsidy)}")
    parts.append(f"请付{spoken_amount(q.elder_pays)}")
    return "，".join(parts) + "。"


class Announcer(Protocol):
    def announce(self, text: str) -> None:
        """Start speaking ``text``; return at once."""
        ...


class Silent:
    """No speech (the default)."""

    def announce(self, text: str) -> None:
        return None


class EspeakAnnouncer:
    """Speak through ``espeak-ng -v <voice>``; with ``wav_dir``, write ``announce-<n>.wav`` files instead."""

    def __init__(self, *, voice: str = "cmn", wav_dir: Path | None = None, binary: str = "espeak-ng") -> None:
        found = shutil.which(binary)
        if found is None:
            raise FileNotFoundError(f"{binary} not found (Debian: apt-get install espeak-ng)")
        self.binary = found
        self.voice = voice
        self.wav_dir = wav_dir
        self._lock = threading.Lock()
        self._current: subprocess.Popen[bytes] | None = None
        self.count = 0
        if wav_dir is not None:
            wav_dir.mkdir(parents=True, exist_ok=True)

    def announce(self, text: str) -> None:
        with self._lock:
            if self._current is not None and self._current.poll() is None and self.wav_dir is None:
                self._current.terminate()  # the newer amount matters, not the older one
            self.count += 1
            args = [self.binary, "-v", self.voice]
            if self.wav_dir is not None:
                args += ["-w", str(self.wav_dir / f"announce-{self.count}.wav")]
            try:
                self._current = subprocess.Popen(
                    [*args, "--", text], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            except OSError as exc:
                log.warning("speech: cannot start %s: %s", self.binary, exc.strerror)
                return
            threading.Thread(target=self._reap, args=(self._current,), name="speech", daemon=True).start()

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> None:
        _, err = proc.communicate()
        if proc.returncode not in (0, -15):
            log.warning("speech: espeak-ng exited with %s", proc.returncode)
        del err

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for the announcement in progress (tests)."""
        with self._lock:
            current = self._current
        if current is not None:
            current.wait(timeout)
