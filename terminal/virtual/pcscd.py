"""A private pcscd with the vsmartcard-vpcd driver (for the tests and the demo) that can be stopped, killed and
started again.

Why a mount namespace: pcsc-lite 1.9 (Debian 12) ignores ``PCSCLITE_CSOCK_NAME`` on the *daemon* side and
always uses ``/run/pcscd/pcscd.comm`` and ``/run/pcscd/pcscd.pid``; only the client library honours the
variable. So the daemon runs under ``unshare`` in its own mount namespace with a private directory bind-mounted
over ``/run``: its "``/run/pcscd/pcscd.comm``" is ``<runtime_dir>/run/pcscd/pcscd.comm`` for everyone else,
which is where the test process's ``PCSCLITE_CSOCK_NAME`` points. The system's pcscd (socket-activated or not)
is never touched and never in the way, and nothing depends on systemd. As root a plain mount namespace is
enough; as a normal user an unprivileged user namespace (``--map-root-user``) makes the bind mount possible.

The client library reads ``PCSCLITE_CSOCK_NAME`` once per process, at the first PC/SC call (not at import), so
the test process must set it to :func:`socket_path` before any PC/SC call; :meth:`PrivatePcscd.start` checks,
and then asks the daemon through it whether the reader is there. The daemon gets the same variable, for a pcscd
that would honour it (1.9.9 does not).

The vpcd driver listens on a TCP port per slot: ``port`` for the reader ``"Virtual PCD 00 00"`` and ``port + 1``
for ``"Virtual PCD 00 01"``. vpcd binds all interfaces (it has no option for 127.0.0.1); cards connect to
127.0.0.1. A port taken meanwhile is noticed (the reader is missing) and another is picked.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from smartcard import scard

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
FRIENDLY_NAME = "Virtual PCD"
READER_NAME = f"{FRIENDLY_NAME} 00 00"  # pcscd names a serial reader "<FRIENDLYNAME> <index> <slot>"

_SYSTEMD_VARIABLES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
# Below the usual ephemeral range (32768-60999), so an outgoing connection does not take the port meanwhile.
_PORT_RANGE = (20000, 30000)


class PcscdError(RuntimeError):
    pass


def socket_path(runtime_dir: Path) -> Path:
    """Where the private daemon's socket appears outside its namespace (what ``PCSCLITE_CSOCK_NAME`` must be)."""
    return runtime_dir / "run" / "pcscd" / "pcscd.comm"


def _ok(hr: int, expected: int = scard.SCARD_S_SUCCESS) -> bool:
    return hr & 0xFFFFFFFF == expected


def _pcscd_binary() -> str:
    found = shutil.which("pcscd", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        raise PcscdError("pcscd is not installed (Debian package pcscd)")
    return found


def _port_pair_is_free(port: int) -> bool:
    for candidate in (port, port + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as vpcd does
            try:
                probe.bind(("", candidate))
            except OSError:
                return False
    return True


def _pick_port() -> int:
    for _ in range(100):
        port = random.randrange(*_PORT_RANGE)
        if _port_pair_is_free(port):
            return port
    raise PcscdError("no free pair of TCP ports for vpcd")


def _namespace_launcher(scratch: Path) -> list[str]:
    """The ``unshare`` prefix that lets this user bind-mount over ``/run`` (tried for real, once per daemon)."""
    plain = ["unshare", "--mount"]
    user = ["unshare", "--user", "--map-root-user", "--mount"]
    candidates = [plain, user] if os.geteuid() == 0 else [user]
    scratch.mkdir(parents=True, exist_ok=True)
    failures = []
    for prefix in candidates:
        probe = subprocess.run(
            [*prefix, "sh", "-c", 'mount --bind "$1" /run', "sh", str(scratch)],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            return prefix
        failures.append(f"{' '.join(prefix)}: {probe.stderr.strip()}")
    raise PcscdError(
        "cannot give pcscd a private /run: needs unshare (util-linux) with mount namespaces (root) or "
        "unprivileged user namespaces; " + "; ".join(failures)
    )


class PrivatePcscd:
    """One private pcscd with one vpcd reader (two slots), its files under ``runtime_dir``.

    ``start`` returns when the daemon answers on its socket and vpcd listens on ``port``. ``stop`` ends it
    with SIGTERM (or SIGKILL with ``kill=True``, leaving a stale socket and pid file the next start copes
    with). ``start(with_reader=False)`` runs it with an empty reader configuration: pcscd up, no reader.
    """

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.socket_path = socket_path(runtime_dir)
        self.log_path = runtime_dir / "pcscd.log"
        self.reader_name = READER_NAME
        self.port = _pick_port()
        self.with_reader = True
        self._run_dir = runtime_dir / "run"
        self._config = runtime_dir / "reader.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._launcher: list[str] | None = None
        self._log_offset = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def client_env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def start(self, *, with_reader: bool = True, timeout: float = 10.0) -> None:
        if self.running:
            raise PcscdError("pcscd is already running")
        if not VPCD_DRIVER.exists():
            raise PcscdError(f"{VPCD_DRIVER} is missing (Debian package vsmartcard-vpcd)")
        if os.environ.get("PCSCLITE_CSOCK_NAME") != str(self.socket_path):
            raise PcscdError(
                f"set PCSCLITE_CSOCK_NAME={self.socket_path} in this process before its first PC/SC call: "
                "libpcsclite reads it once, and the tests talk to this daemon through it"
            )
        if self._launcher is None:
            self._launcher = _namespace_launcher(self.runtime_dir / "probe")
        for attempt in range(3):
            if attempt and with_reader:
                self.port = _pick_port()  # someone took the port meanwhile
            if self._start_once(with_reader=with_reader, timeout=timeout):
                self.with_reader = with_reader
                return
        raise PcscdError(f"vpcd could not listen on a port; pcscd log:\n{self.log_tail()}")

    def _start_once(self, *, with_reader: bool, timeout: float) -> bool:
        assert self._launcher is not None
        self._run_dir.mkdir(parents=True, exist_ok=True)
        # A killed daemon leaves its socket and pid file behind; they are ours, so clear them.
        shutil.rmtree(self._run_dir / "pcscd", ignore_errors=True)
        self._config.write_text(self._reader_conf() if with_reader else "# no readers\n")
        env = {k: v for k, v in os.environ.items() if k not in _SYSTEMD_VARIABLES}
        env.update(self.client_env())
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        script = 'mount --bind "$1" /run && exec "$2" --foreground --info --config "$3"'
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [*self._launcher, "sh", "-c", script, "sh", str(self._run_dir), _pcscd_binary(), str(self._config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None:
                raise PcscdError(f"pcscd exited with {self._process.returncode}; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise PcscdError(f"pcscd did not come up in {timeout} s; log:\n{self.log_tail()}")
            time.sleep(0.02)
        if with_reader and self.reader_name not in self._listed_readers():
            self.stop()  # vpcd could not listen on the port ("Address already in use" in the log)
            return False
        return True

    def _listed_readers(self) -> list[str]:
        hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if not _ok(hr):
            raise PcscdError(f"pcscd is up but does not answer: 0x{hr & 0xFFFFFFFF:08X}")
        try:
            hr, readers = scard.SCardListReaders(context, [])
            return [str(reader) for reader in readers] if _ok(hr) else []
        finally:
            scard.SCardReleaseContext(context)

    def _reader_conf(self) -> str:
        return (
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
            f"DEVICENAME /dev/null:{self.port}\n"
            f"LIBPATH {VPCD_DRIVER}\n"
            f"CHANNELID {self.port}\n"
        )

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def stop(self, *, kill: bool = False, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)

    def restart(self, *, kill: bool = False, with_reader: bool = True) -> None:
        self.stop(kill=kill)
        self.start(with_reader=with_reader)

    def ensure_running(self) -> None:
        """Running, with the reader: what a test may expect whatever the previous test did."""
        if not (self.running and self.with_reader):
            self.stop()
            self.start()

    def wait_reader_empty(self, timeout: float = 5.0) -> None:
        """Wait until pcscd has seen the last card leave the reader (asked through this process's PC/SC client,
        so ``PCSCLITE_CSOCK_NAME`` must point at :attr:`socket_path`).

        vpcd accepts the next card in the same presence poll in which it drops one that vanished mid-APDU, so
        a card tapped right after such a one would look to pcscd like the same card still lying there.
        """
        if not self.running:
            return
        hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if not _ok(hr):
            return  # pcscd is not answering: nothing is on its reader
        try:
            state = scard.SCARD_STATE_UNAWARE
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                hr, states = scard.SCardGetStatusChange(context, 200, [(self.reader_name, state)])
                if _ok(hr, scard.SCARD_E_TIMEOUT):
                    continue
                if not _ok(hr):
                    return  # no such reader (started without one) or pcscd went away
                state = states[0][1]
                if state & scard.SCARD_STATE_EMPTY:
                    return
            raise PcscdError(f"a card is still on {self.reader_name!r} after {timeout} s")
        finally:
            scard.SCardReleaseContext(context)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def _new_log(self) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self._new_log().splitlines()[-lines:])
