"""The terminal's sync worker: a background thread that pushes meals to the central server and pulls the roster.

**Push** (``POST /api/v1/sync/push``, :class:`ruyi.sync.PushRequest`): the ledger's records after what the server
acknowledged, in seq order, in batches bounded by record count and bytes. Each meal is pushed soon after it is
committed (the counter calls :meth:`SyncWorker.wake`, which only sets an event) and at least every
``push_interval_s``. The ledger's sync cursor (:meth:`terminal.ledger.Ledger.mark_synced`) moves only up to the
server's ``held_through`` (never beyond the ledger's head, never back), so a lost answer, a timeout or a crash
anywhere means only that a batch is sent again; the server stores each meal once whatever it is sent. A 409 is a
processed batch with a conflict: the cursor moves as usual and the conflict is logged (seq and meal id only) and
counted in the status. A 426 means this terminal must be upgraded: the status says so; the counter goes on.

**Pull** (``GET /api/v1/sync/pull``, :class:`ruyi.sync.PullResponse`): on start and every ``pull_interval_s``,
deltas since a cursor (all pages), or a full resync when the server says so. The new snapshot is checked
(:class:`terminal.snapshot.SnapshotData` refuses what a terminal may not hold), written atomically, then handed to
the counter (``on_snapshot``) as a new :class:`~terminal.snapshot.Snapshot`; the cursor is saved after the
snapshot (a crash in between re-applies the same deltas, which is harmless).

**Never blocks the counter.** The worker runs in its own thread; every request has connect/read/write timeouts
and an overall deadline; the counter only sets an event and reads :meth:`SyncWorker.subsidy_stops_at` (memory).

**Failures** (no connection, reset, timeout, 5xx, 401): retried after a pause that doubles from 1 s up to
``backoff_max_s``, with jitter (50-100 % of it), so that a canteen's terminals do not all come back at once.

**Offline policy** (:class:`ruyi.sync.OfflinePolicy`, from the server, kept in the state file): subsidies stop
``max_offline_hours`` after the last successful sync (before the first one: after the snapshot was made); the
cashier screen counts down from ``warn_minutes`` before. A successful sync is a round in which everything
unsynced was pushed and, when due, the pull went through. Times are the terminal's clock (injectable).

**Z-reports** (``POST /api/v1/sync/z-reports``, :class:`ruyi.sync.ZReportIn`): after the meals of a round are
pushed, every Z-report stored in the ledger after the last one the server took is sent, oldest first; each answer
(stored, duplicate, or a logged conflict) moves the acknowledged row id in the state file, saved at once. The
ledger's tables are append-only, so the marker lives here; a lost state file only means the reports are sent
again, and the server keeps each once.

**State** (``sync-state.json`` in the data dir, written atomically): the pull cursor, the offline policy, when the
roster was last confirmed by the server, the last successful sync, and the last Z-report the server took. What
meals were pushed is in the ledger itself.

The credential is read from a file that only its owner may read (``chmod 600``); it is sent as a bearer token and
never logged. Log lines carry codes, counts, seqs and meal ids: never a name, an ID number, a category, a card key.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import random
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from ruyi.meal import MealRecord
from ruyi.sync import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    SYNC_PROTOCOL,
    OfflinePolicy,
    PullResponse,
    PushResponse,
    RosterEntry,
    ZReportAck,
    ZReportIn,
)
from terminal.ledger import Ledger, ZReport
from terminal.snapshot import Snapshot, SnapshotData, write_snapshot
from terminal.web.status import ServerLink

log = logging.getLogger(__name__)

PUSH_PATH = "/api/v1/sync/push"
PULL_PATH = "/api/v1/sync/pull"
Z_REPORTS_PATH = "/api/v1/sync/z-reports"
ME_PATH = "/api/v1/terminal/me"
MAX_PULL_PAGES = 100_000
_STATE_SAVE_EVERY_S = 60.0

Clock = Callable[[], datetime]


class SyncFailure(Exception):
    """One sync attempt failed; ``code`` says why (shown on the status, logged)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


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
class PushResult:
    batches: int = 0
    sent: int = 0
    held_through: int = 0
    conflicts: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class PullResult:
    pages: int
    full: bool
    changed: bool


@dataclass(slots=True)
class _Link:
    reachable: bool = False
    since: datetime | None = None
    offline_since: datetime | None = None
    last_error: str | None = None
    upgrade_required: bool = False
    held_through: int = 0
    conflicts: int = 0
    rejected: int = 0
    failures: int = 0


def read_credential(path: Path) -> str:
    """The bearer credential in ``path``; refused when others than its owner may read it, or when empty."""
    try:
        st = path.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SyncFailure("sync.credential_exposed", f"{path} must be readable by its owner only (chmod 600)")
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SyncFailure("sync.credential_unreadable", f"{path}: {exc.strerror}") from None
    if not token or any(c.isspace() for c in token):
        raise SyncFailure("sync.credential_invalid", f"{path} holds no single credential")
    return token


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class _Pulled:
    """A pull in progress: the snapshot being built across pages."""

    elders: dict[str, RosterEntry]
    revoked: set[str]
    data: SnapshotData
    full: bool = False
    changed: bool = False
    pages: int = 0
    policy: OfflinePolicy = field(default_factory=OfflinePolicy)


class SyncWorker:
    """Pushes the ledger's meals and pulls the snapshot in a background thread (:meth:`start`, :meth:`stop`).

    ``on_snapshot`` receives each new snapshot (the app swaps it into the counter). ``credential`` is a callable
    returning the bearer token (default: :func:`read_credential` of ``credential_file``), read before each round so
    a rotated credential is picked up. ``transport`` is for tests (an ``httpx.BaseTransport``); ``rng`` for jitter.
    The same methods run a round synchronously (:meth:`sync_once`, :meth:`push_pending`, :meth:`pull`).
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
        self._max_records = min(settings.max_batch_records, MAX_BATCH_RECORDS)
        self._max_bytes = min(settings.max_batch_bytes, MAX_BATCH_BYTES)
        self.state = self._load_state()
        self._state_saved = time.monotonic()
        self._link = _Link(since=clock())
        self._lock = threading.Lock()  # guards _link and state fields read by other threads
        self._round = threading.Lock()  # one round at a time (thread or a synchronous caller)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._contact = False
        t = settings.timeout_s
        self._client = httpx.Client(
            base_url=settings.server_url.rstrip("/"),
            timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
            transport=transport or httpx.HTTPTransport(retries=0),
            headers={"User-Agent": f"ruyi-terminal/{SYNC_PROTOCOL}"},
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
        _write_atomic(self.state_path, self.state.model_dump_json().encode())
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
        """For the status bar (:class:`terminal.web.status.ServerLinkSource`): reachable or not since when, and the
        moment subsidies stop once the countdown shows (and after). Memory only."""
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
            self._client.close()

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
                    self._check(self._request("GET", ME_PATH, token), (200,))
            except SyncFailure as failure:
                self._failed(failure)
                return False
            self._succeeded()
            return True

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
        """The server answered (whatever the outcome): it is reachable."""
        now = self.clock()
        with self._lock:
            if not self._link.reachable:
                self._link.reachable = True
                self._link.since = now
            self._link.offline_since = None

    # ---- HTTP

    def _request(self, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        """One request with an overall deadline (httpx's timeouts are per socket operation, so a link that trickles
        bytes could otherwise hold the worker for ever). Network failures become :class:`SyncFailure`."""
        deadline = time.monotonic() + self.settings.timeout_s * 3
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        try:
            with self._client.stream(method, path, headers=headers, **kw) as response:
                chunks = []
                for chunk in response.iter_raw():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise SyncFailure("sync.timeout", "the answer took too long")
                content = b"".join(chunks)
                encoding = response.headers.get("content-encoding", "")
                if encoding == "gzip":
                    content = gzip.decompress(content)
                elif encoding not in ("", "identity"):
                    raise SyncFailure("sync.bad_response", f"content-encoding {encoding}")
                return httpx.Response(response.status_code, headers=response.headers, content=content)
        except httpx.TimeoutException:
            raise SyncFailure("sync.timeout") from None
        except httpx.ConnectError:
            raise SyncFailure("sync.connect") from None
        except (httpx.TransportError, OSError, EOFError) as exc:
            raise SyncFailure("sync.network", type(exc).__name__) from None

    def _check(self, response: httpx.Response, ok: tuple[int, ...]) -> None:
        code = response.status_code
        if code in ok:
            self._contact = True
            self._answered()
            return
        if code == 426:
            raise SyncFailure("sync.upgrade_required", _error_code(response))
        if code in (401, 403):
            raise SyncFailure("sync.unauthorized", _error_code(response))
        raise SyncFailure(f"sync.http_{code}", _error_code(response))

    # ---- push

    def push_pending(self, *, token: str | None = None) -> PushResult:
        """Push every record after the server's acknowledged seq, batch by batch, moving the ledger's cursor to each
        answer's ``held_through``. Raises :class:`SyncFailure` on the first batch that fails."""
        token = token if token is not None else self._credential()
        after = self.ledger.synced_up_to()
        last_held: int | None = None
        batches = sent = conflicts = rejected = 0
        held = after
        while not self._stop.is_set():  # stopping between batches is safe: the cursor is in the ledger
            records = self.ledger.unsynced(self._max_records, after_seq=after)
            if not records:
                break
            body, count = self._batch_body(records)
            response = self._post_batch(token, body)
            batches += 1
            sent += count
            held = response.held_through
            new_conflicts = new_rejected = 0
            for outcome in response.results:
                if outcome.outcome == "conflict":
                    new_conflicts += 1
                    log.error(
                        "sync: conflict at seq %d (meal %s): the server keeps its own", outcome.seq, outcome.meal_id
                    )
                elif outcome.outcome == "rejected":
                    new_rejected += 1
                    log.error("sync: seq %d (meal %s) rejected: %s", outcome.seq, outcome.meal_id, outcome.detail)
            conflicts += new_conflicts
            rejected += new_rejected
            with self._lock:
                self._link.held_through = held
                self._link.conflicts += new_conflicts
                self._link.rejected += new_rejected
            self._acknowledge(held)
            last = records[count - 1].seq
            if held < last and last_held is not None and held <= last_held:
                raise SyncFailure("sync.not_held", f"the server holds through seq {held} and no further")
            last_held = held
            after = held  # the next batch starts after what the server holds (resends what it lacks)
        return PushResult(batches, sent, held, conflicts, rejected)

    def _acknowledge(self, held: int) -> None:
        acked = self.ledger.synced_up_to()
        if held < acked:
            log.warning("sync: the server holds through seq %d, less than it acknowledged (%d): resending", held, acked)
            return
        if held == acked:
            return
        head = self.ledger.head().seq
        if held > head:
            log.error("sync: the server holds through seq %d, beyond this ledger's head %d", held, head)
            held = head
        if held > acked:
            self.ledger.mark_synced(held, at=self.clock())

    def _batch_body(self, records: list[MealRecord]) -> tuple[bytes, int]:
        """The PushRequest JSON for the longest prefix of ``records`` within the byte bound (at least one)."""
        snap_at = self.state.roster_as_of or self.snapshot.created_at
        envelope = {
            "protocol": self.settings.protocol,
            "terminal_clock": self.clock().isoformat(),
            "snapshot_created_at": snap_at.isoformat(),
        }
        head = json.dumps(envelope, separators=(",", ":"))[:-1] + ',"records":['
        parts: list[str] = []
        size = len(head) + 2
        for record in records:
            text = record.model_dump_json()
            if parts and size + len(text) + 1 > self._max_bytes:
                break
            parts.append(text)
            size += len(text) + 1
        return (head + ",".join(parts) + "]}").encode(), len(parts)

    def _post_batch(self, token: str, body: bytes) -> PushResponse:
        headers = {"Content-Type": "application/json"}
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        response = self._request("POST", PUSH_PATH, token, content=body, headers=headers)
        if response.status_code == 413 and self._max_records > 1:
            self._max_records = max(1, self._max_records // 2)
            self._max_bytes = max(4096, self._max_bytes // 2)
            log.warning("sync: batch too large for the server; now at most %d records", self._max_records)
        self._check(response, (200, 409))
        try:
            return PushResponse.model_validate_json(response.content)
        except ValidationError:
            raise SyncFailure("sync.bad_response", "push answer does not match the contract") from None

    # ---- Z-reports

    def send_z_reports(self, *, token: str | None = None) -> int:
        """Send the ledger's Z-reports after the last one the server answered, oldest first; the number the server
        took (stored, duplicate or conflict). One refused as invalid (422) is logged and passed over. Raises
        :class:`SyncFailure` on the first that fails otherwise (the marker stays before it: sent again next round)."""
        token = token if token is not None else self._credential()
        sent = 0
        with self._lock:
            after = self.state.z_reports_sent_through
        for row_id, report in self.ledger.z_reports_after(after):
            if self._stop.is_set():
                break
            try:
                body = z_report_body(report, protocol=self.settings.protocol).encode()
            except ValidationError:
                body = None
            response = None
            if body is not None:
                headers = {"Content-Type": "application/json"}
                response = self._request("POST", Z_REPORTS_PATH, token, content=body, headers=headers)
            if response is None or response.status_code == 422:
                # Refused as it stands (here or by the server): sending it again cannot help, and it must not
                # hold back the reports after it nor fail every round.
                log.error("sync: z-report of %s (row %d) not acceptable: skipped", report.day, row_id)
                if response is not None:
                    self._check(response, (422,))
            else:
                self._check(response, (200, 409))
                try:
                    ack = ZReportAck.model_validate_json(response.content)
                except ValidationError:
                    raise SyncFailure("sync.bad_response", "z-report answer does not match the contract") from None
                if ack.outcome == "conflict":
                    log.error("sync: z-report of %s (row %d) conflicts with the server's", report.day, row_id)
                sent += 1
            with self._lock:
                self.state.z_reports_sent_through = row_id
            self._save_state()
        return sent

    # ---- pull

    def pull(self, *, token: str | None = None) -> PullResult:
        """Pull every page since the cursor; write and swap the snapshot when something changed; save the cursor."""
        token = token if token is not None else self._credential()
        current = self.snapshot.data
        work = _Pulled(elders={e.elder_id: e for e in current.elders}, revoked=set(current.revoked_cards), data=current)
        cursor = self.state.cursor
        server_time: datetime | None = None
        for _ in range(MAX_PULL_PAGES):
            params: dict[str, str | int] = {"protocol": self.settings.protocol}
            if cursor is not None:
                params["cursor"] = cursor
            response = self._request("GET", PULL_PATH, token, params=params)
            self._check(response, (200,))
            try:
                page = PullResponse.model_validate_json(response.content)
            except ValidationError:
                raise SyncFailure("sync.bad_snapshot", "pull answer refused (contract or redaction)") from None
            self._apply(work, page)
            cursor, server_time = page.cursor, page.server_time
            if not page.more:
                break
        else:
            raise SyncFailure("sync.bad_response", "the server sent too many pages")
        if work.changed:
            try:
                data = SnapshotData(
                    created_at=server_time or self.clock(),
                    rules=work.data.rules,
                    elders=tuple(work.elders.values()),
                    revoked_cards=tuple(sorted(work.revoked)),
                    menu=work.data.menu,
                )
            except ValidationError:
                raise SyncFailure("sync.bad_snapshot", "the pulled snapshot is not one a terminal may hold") from None
            write_snapshot(self.snapshot_path, data)
            snapshot = Snapshot.of(data)
            self.snapshot = snapshot
            if self.on_snapshot is not None:
                self.on_snapshot(snapshot)
            log.info(
                "sync: snapshot %s: %d elders, %d revoked cards, %d menu items",
                "replaced" if work.full else "updated",
                len(data.elders),
                len(data.revoked_cards),
                len(data.menu),
            )
        with self._lock:
            self.state.cursor = cursor
            self.state.offline_policy = work.policy
            self.state.roster_as_of = server_time
        self._save_state()
        return PullResult(work.pages, work.full, work.changed)

    @staticmethod
    def _apply(work: _Pulled, page: PullResponse) -> None:
        if page.full and not work.full:
            if page.rules is None:
                raise SyncFailure("sync.bad_snapshot", "a full resync without a rule book")
            work.full = True
            work.elders.clear()
            work.revoked.clear()
            work.data = work.data.model_copy(update={"menu": ()})
            work.changed = True
        work.pages += 1
        if page.rules is not None:
            work.data = work.data.model_copy(update={"rules": page.rules})
            work.changed = True
        if page.menu is not None:
            work.data = work.data.model_copy(update={"menu": page.menu})
            work.changed = True
        for entry in page.roster:
            work.elders[entry.elder_id] = entry
        for elder_id in page.removed_elders:
            work.elders.pop(elder_id, None)
        work.revoked.update(page.revoked_cards)
        # A card bound again (found after being reported lost) is a current card of some entry: no longer revoked.
        work.revoked.difference_update(key for entry in page.roster for key in entry.cards)
        if page.roster or page.removed_elders or page.revoked_cards:
            work.changed = True
        work.policy = page.offline_policy

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self._save_state()


def z_report_body(report: ZReport, *, protocol: int = SYNC_PROTOCOL) -> str:
    """The :class:`ZReportIn` JSON of a ledger Z-report. ``voids`` is the day's sales voided (``sales - meals``),
    the figure the settlement counts from the server's meals; the ledger voids only same-day sales, so it equals
    the day's void records."""
    return ZReportIn(
        protocol=protocol,
        terminal_id=report.terminal_id,
        canteen_id=report.canteen_id,
        day=report.day,
        made_at=report.made_at,
        meals=report.meals,
        voids=report.sales - report.meals,
        price_total=report.price_total,
        subsidy_total=report.subsidy_total,
        elder_pays_total=report.elder_pays_total,
        first_seq=report.first_seq,
        last_seq=report.last_seq,
        chain_head=report.chain_head,
    ).model_dump_json()


def _error_code(response: httpx.Response) -> str:
    """The ``error`` code of an error body (``{"error": ..., "detail": ...}``), never the detail (it may hold data)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
