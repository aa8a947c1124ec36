"""Pull: every page of deltas since the cursor (or a full resync when the server says so), assembled into the
next snapshot, which :class:`terminal.snapshot.SnapshotData` checks (it refuses what a terminal may not hold)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ruyi.sync import OfflinePolicy, PullResponse, RosterEntry
from terminal.snapshot import SnapshotData
from terminal.sync.http import PULL_PATH, SyncFailure, SyncHttp

MAX_PULL_PAGES = 100_000


@dataclass(frozen=True, slots=True)
class PullResult:
    pages: int
    full: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class Pulled:
    """A pull done: the new snapshot (None when nothing changed) and what the worker keeps of it."""

    result: PullResult
    data: SnapshotData | None
    cursor: str | None
    server_time: datetime | None
    policy: OfflinePolicy


@dataclass(slots=True)
class _Work:
    """A pull in progress: the snapshot being built across pages."""

    elders: dict[str, RosterEntry]
    revoked: set[str]
    data: SnapshotData
    full: bool = False
    changed: bool = False
    pages: int = 0
    policy: OfflinePolicy = field(default_factory=OfflinePolicy)


def pull_pages(
    http: SyncHttp,
    token: str,
    *,
    protocol: int,
    current: SnapshotData,
    cursor: str | None,
    clock: Callable[[], datetime],
) -> Pulled:
    """Ask for every page after ``cursor`` and apply them to ``current``."""
    work = _Work(elders={e.elder_id: e for e in current.elders}, revoked=set(current.revoked_cards), data=current)
    server_time: datetime | None = None
    for _ in range(MAX_PULL_PAGES):
        params: dict[str, str | int] = {"protocol": protocol}
        if cursor is not None:
            params["cursor"] = cursor
        response = http.request("GET", PULL_PATH, token, params=params)
        http.check(response, (200,))
        try:
            page = PullResponse.model_validate_json(response.content)
        except ValidationError:
            raise SyncFailure("sync.bad_snapshot", "pull answer refused (contract or redaction)") from None
        _apply(work, page)
        cursor, server_time = page.cursor, page.server_time
        if not page.more:
            break
    else:
        raise SyncFailure("sync.bad_response", "the server sent too many pages")
    data = None
    if work.changed:
        try:
            data = SnapshotData(
                created_at=server_time or clock(),
                rules=work.data.rules,
                elders=tuple(work.elders.values()),
                revoked_cards=tuple(sorted(work.revoked)),
                menu=work.data.menu,
                cashiers=work.data.cashiers,
            )
        except ValidationError:
            raise SyncFailure("sync.bad_snapshot", "the pulled snapshot is not one a terminal may hold") from None
    return Pulled(PullResult(work.pages, work.full, work.changed), data, cursor, server_time, work.policy)


def _apply(work: _Work, page: PullResponse) -> None:
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
    if page.cashiers is not None and page.cashiers != work.data.cashiers:
        work.data = work.data.model_copy(update={"cashiers": page.cashiers})
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
