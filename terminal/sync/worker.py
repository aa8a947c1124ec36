"""The sync worker: a background thread that pushes meals and pulls the roster, and the link state it keeps.

**Never blocks the counter.** The counter only sets an event (:meth:`SyncWorker.wake`) and reads the offline gate
(memory); every request has timeouts and an overall deadline. **Failures** (no connection, reset, timeout, 5xx,
401) are retried after a pause that doubles from ``backoff_base_s`` up to ``backoff_max_s``, times 50-100 % (so a
canteen's terminals do not all come back at once); a 426 says the terminal must be upgraded, and the counter goes
on. **Offline policy** (:class:`ruyi.sync.OfflinePolicy`, from the server): subsidies stop ``max_offline_hours``
after the last successful sync (before the first: after the snapshot was made), and the screen counts down from
``warn_minutes`` before. **State** (``sync-state.json``, written atomically): the pull cursor, the policy, when the
roster was last confirmed, the last success, the last Z-report the server took; what was pushed is in the ledger.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from ruyi.sync import MAX_BATCH_RECORDS, SYNC_PROTOCOL, OfflinePolicy
from terminal.files import write_atomic
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot, write_snapshot
from terminal.sync.http import ME_PATH, SyncFailure, SyncHttp
from terminal.sync.pull import PullResult, pull_pages
from terminal.sync.push import Pusher, PushResult

log = logging.getLogger("terminal.sync")

_STATE_SAVE_EVERY_S = 60.0

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """How the worker talks to the server (see :class:`terminal.config.SyncConfig` for the meaning of each)."""

    server_url: str
    push_delay_s: float = 0.5
    push_interval_s: float = 30.0
    pull_interval_s: float = 300.0
    timeout_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    max_batch_records: int = MAX_BATCH_RECORDS
    max_batch_bytes: int = 900_000
    gzip: bool = False
    pull: bool = True
    """False: push only (a round with nothing to push then asks ``GET /terminal/me``, to know the link works)."""
    protocol: int = SYNC_PROTOCOL
    """The protocol this terminal speaks (tests of the upgrade path set another)."""


class SyncState(BaseModel):
    """What the worker keeps between runs (``sync-state.json``)."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = None
    offline_policy: OfflinePolicy = OfflinePolicy()
    roster_as_of: AwareDatetime | None = None
    """When the server last confirmed the roster (the end of the last successful pull)."""
    last_success_at: AwareDatetime | None = None
    z_reports_sent_through: int = 0
    """The ledger's Z-report row id up to which the server has answered (every report up to it is held)."""


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the worker knows, for the status bar and the logs (no personal data)."""

    configured: bool
    reachable: bool
    """The last request got an answer from the server (not a network failure, a timeout or a 5xx)."""
    since: datetime | None
    """Reachable, or unreachable, since then (the terminal's clock)."""
    last_success_at: datetime | None
    offline_since: datetime | None
    """When the server stopped answering (None while it answers)."""
    last_error: str | None
    """A code (``sync.timeout``, ``sync.connect``, ``sync.http_503``, ``sync.upgrade_required`` ...)."""
    upgrade_required: bool
    unsynced: int
    held_through: int
    conflicts: int
    """Meals the server answered as conflicts (same id, other content) since this process started."""
    rejected: int
    subsidy_stops_at: datetime | None
    countdown_from: datetime | None
    roster_as_of: datetime | None


@dataclass(frozen=True, slots=True)
class ServerLink:
    """The server link as the screen shows it."""

    reachable: bool
    since: datetime | None = None
    """Reachable (or unreachable) since this moment; None when unknown."""
    subsidy_stops_at: datetime | None = None
    """When the terminal, offline too long, stops granting subsidies (the countdown); None when it does not apply."""
    configured: bool = True
    """False when this terminal has no server link at all (no sync yet)."""


class ServerLinkSource(Protocol):
    """Asked about once a second by the screen; must answer at once (no network I/O in the call)."""

    def server_link(self) -> ServerLink: ...


class NotConnected:
    """No sync on this terminal: always offline, since the terminal started."""

    def __init__(self, started: datetime) -> None:
        self._link = ServerLink(reachable=False, since=started, configured=False)

    def server_link(self) -> ServerLink:
        return self._link


@dataclass(slots=True)
class _LinkState:
    reachable: bool = False
    since: datetime | None = None
    offline_since: datetime | None = None
    last_error: str | None = None
    upgrade_required: bool = False
    held_through: int = 0
    conflicts: int = 0
    rejected: int = 0
    failures: int = 0


class SyncWorker:
    """Pushes the ledger's meals and pulls the snapshot in a background thread (:meth:`start`, :meth:`stop`).

    ``on_snapshot`` receives each new snapshot (the app swaps it into the counter). ``credential`` returns the
    bearer token, read before each round so a rotated credential is picked up. ``transport`` is for tests (an
    ``httpx.BaseTransport``); ``rng`` for jitter. The same methods run a round synchronously (:meth:`sync_once`,
    :meth:`push_pending`, :meth:`pull`).
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        settings: SyncSettings,
        credential: Callable[[], str],
        state_path: Path,
        snapshot: Snapshot,
        snapshot_path: Path,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self._credential = credential
        self.state_path = state_path
        self.snapshot = snapshot
        self.snapshot_path = snapshot_path
        self.on_snapshot = on_snapshot
        self.clock = clock
        self._rng = rng or random.Random()
        self.state = self._load_state()
        self._state_saved = time.monotonic()
        self._link = _LinkState(since=clock())
        self._lock = threading.Lock()  # guards _link and state fields read by other threads
        self._round = threading.Lock()  # one round at a time (thread or a synchronous caller)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._contact = False
        self._http = SyncHttp(
            server_url=settings.server_url, timeout_s=settings.timeout_s, transport=transport, on_answer=self._answered
        )
        self._pusher = Pusher(
            ledger=ledger,
            http=self._http,
            protocol=settings.protocol,
            gzip=settings.gzip,
            max_batch_records=settings.max_batch_records,
            max_batch_bytes=settings.max_batch_bytes,
            clock=clock,
            stop=self._stop,
        )

    # ---- state

    def _load_state(self) -> SyncState:
        try:
            return SyncState.model_validate_json(self.state_path.read_bytes())
        except FileNotFoundError:
            return SyncState()
        except (OSError, ValidationError) as exc:
            log.warning("sync state unreadable (%s): starting with a full pull", type(exc).__name__)
            return SyncState()

    def _save_state(self) -> None:
        write_atomic(self.state_path, self.state.model_dump_json().encode())
        self._state_saved = time.monotonic()

    # ---- what the counter and the screens ask (memory only, no I/O but one ledger count)

    def wake(self) -> None:
        """A record was committed: push soon. Returns at once."""
        self._wake.set()

    def subsidy_stops_at(self) -> datetime | None:
        """When subsidies stop unless a sync succeeds before: the last success (or the snapshot's making) plus the
        policy's ``max_offline_hours``."""
        with self._lock:
            base = self.state.last_success_at or self.snapshot.created_at
            return base + timedelta(hours=self.state.offline_policy.max_offline_hours)

    def countdown_from(self) -> datetime | None:
        stops = self.subsidy_stops_at()
        with self._lock:
            warn = self.state.offline_policy.warn_minutes
        return None if stops is None else stops - timedelta(minutes=warn)

    def server_link(self) -> ServerLink:
        """For the status bar (:class:`ServerLinkSource`): reachable or not since when, and the moment subsidies
        stop once the countdown shows (and after). Memory only."""
        stops, start = self.subsidy_stops_at(), self.countdown_from()
        shown = stops if stops is not None and start is not None and self.clock() >= start else None
        with self._lock:
            return ServerLink(reachable=self._link.reachable, since=self._link.since, subsidy_stops_at=shown)

    def status(self) -> SyncStatus:
        stops, start = self.subsidy_stops_at(), self.countdown_from()
        unsynced = self.ledger.unsynced_count()
        with self._lock:
            link = self._link
            return SyncStatus(
                configured=True,
                reachable=link.reachable,
                since=link.since,
                last_success_at=self.state.last_success_at,
                offline_since=link.offline_since,
                last_error=link.last_error,
                upgrade_required=link.upgrade_required,
                unsynced=unsynced,
                held_through=link.held_through,
                conflicts=link.conflicts,
                rejected=link.rejected,
                subsidy_stops_at=stops,
                countdown_from=start,
                roster_as_of=self.state.roster_as_of,
            )

    # ---- the thread

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the sync worker is already running")
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread (a request in flight ends within its timeout) and close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.settings.timeout_s * 4)
        with self._round:
            self._http.close()

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self._save_state()

    def _run(self) -> None:
        s = self.settings
        next_push = next_pull = time.monotonic()  # both at once on start
        while not self._stop.is_set():
            now = time.monotonic()
            woken = self._wake.is_set()
            if not (woken or now >= next_push or now >= next_pull):
                self._wake.wait(min(next_push, next_pull) - now)
                continue
            if woken and s.push_delay_s > 0 and self._stop.wait(s.push_delay_s):
                break  # let meals committed just after this one go in the same batch
            self._wake.clear()
            pull_due = s.pull and time.monotonic() >= next_pull
            ok = self.sync_once(pull=pull_due)
            now = time.monotonic()
            if ok:
                next_push = now + s.push_interval_s
                if pull_due:
                    next_pull = now + s.pull_interval_s
                continue
            pause = self.backoff_delay()
            log.info("sync failed (%s); next attempt in %.1f s", self._link.last_error, pause)
            if self._stop.wait(pause):
                break
            next_push = time.monotonic()  # a wake-up during the pause does not cut it short; retry now

    def backoff_delay(self) -> float:
        """The pause after the current run of failures: ``base * 2**(failures-1)``, capped, times 0.5-1.0."""
        with self._lock:
            n = max(self._link.failures, 1)
        s = self.settings
        ceiling = min(s.backoff_max_s, s.backoff_base_s * 2 ** min(n - 1, 30))
        return float(ceiling * (0.5 + 0.5 * self._rng.random()))

    # ---- one round

    def sync_once(self, *, pull: bool = True) -> bool:
        """Push everything unsynced, then pull (when ``pull`` and the settings allow). True when it all worked."""
        with self._round:
            self._contact = False
            try:
                token = self._credential()
                self.push_pending(token=token)
                self.send_z_reports(token=token)
                if pull and self.settings.pull:
                    self.pull(token=token)
                if not self._contact:  # nothing to push, no pull due: prove the link and the credential
                    self._http.check(self._http.request("GET", ME_PATH, token), (200,))
            except SyncFailure as failure:
                self._failed(failure)
                return False
            self._succeeded()
            return True

    def push_pending(self, *, token: str | None = None) -> PushResult:
        """Push every record the server lacks (:meth:`Pusher.push_pending`); raises :class:`SyncFailure`."""
        token = token if token is not None else self._credential()
        return self._pusher.push_pending(token, snapshot_at=self._snapshot_at, on_batch=self._batch_answered)

    def _snapshot_at(self) -> datetime:
        return self.state.roster_as_of or self.snapshot.created_at

    def _batch_answered(self, held: int, conflicts: int, rejected: int) -> None:
        with self._lock:
            self._link.held_through = held
            self._link.conflicts += conflicts
            self._link.rejected += rejected

    def send_z_reports(self, *, token: str | None = None) -> int:
        """Send the Z-reports after the last one the server answered (:meth:`Pusher.send_z_reports`)."""
        token = token if token is not None else self._credential()
        with self._lock:
            after = self.state.z_reports_sent_through
        return self._pusher.send_z_reports(token, after=after, on_answered=self._z_report_answered)

    def _z_report_answered(self, row_id: int) -> None:
        with self._lock:
            self.state.z_reports_sent_through = row_id
        self._save_state()

    def pull(self, *, token: str | None = None) -> PullResult:
        """Pull every page since the cursor; write and swap the snapshot when something changed; save the cursor
        (after the snapshot: a crash in between re-applies the same deltas, which is harmless)."""
        token = token if token is not None else self._credential()
        pulled = pull_pages(
            self._http,
            token,
            protocol=self.settings.protocol,
            current=self.snapshot.data,
            cursor=self.state.cursor,
            clock=self.clock,
        )
        if pulled.data is not None:
            write_snapshot(self.snapshot_path, pulled.data)
            snapshot = Snapshot.of(pulled.data)
            self.snapshot = snapshot
            if self.on_snapshot is not None:
                self.on_snapshot(snapshot)
            log.info(
                "sync: snapshot %s: %d elders, %d revoked cards, %d menu items",
                "replaced" if pulled.result.full else "updated",
                len(pulled.data.elders),
                len(pulled.data.revoked_cards),
                len(pulled.data.menu),
            )
        with self._lock:
            self.state.cursor = pulled.cursor
            self.state.offline_policy = pulled.policy
            self.state.roster_as_of = pulled.server_time
        self._save_state()
        return pulled.result

    # ---- link state

    def _failed(self, failure: SyncFailure) -> None:
        now = self.clock()
        answered = failure.code.startswith("sync.http_4") or failure.code in {
            "sync.upgrade_required",
            "sync.unauthorized",
            "sync.not_held",
            "sync.bad_response",
            "sync.bad_snapshot",
        }
        with self._lock:
            link = self._link
            link.failures += 1
            link.last_error = failure.code
            if failure.code == "sync.upgrade_required":
                link.upgrade_required = True
            if link.reachable != answered:
                link.reachable = answered
                link.since = now
            if not answered and link.offline_since is None:
                link.offline_since = now
        log.warning("sync: %s", failure.code)

    def _succeeded(self) -> None:
        now = self.clock()
        with self._lock:
            link = self._link
            if not link.reachable:
                link.reachable = True
                link.since = now
            link.offline_since = None
            link.last_error = None
            link.upgrade_required = False
            link.failures = 0
            self.state.last_success_at = now
        if time.monotonic() - self._state_saved >= _STATE_SAVE_EVERY_S:
            self._save_state()

    def _answered(self) -> None:
        """The server answered (whatever the outcome): it is reachable, and this round has been in contact."""
        self._contact = True
        now = self.clock()
        with self._lock:
            if not self._link.reachable:
                self._link.reachable = True
                self._link.since = now
            self._link.offline_since = None
