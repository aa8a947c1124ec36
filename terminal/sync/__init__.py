"""The terminal's sync with the central server: push meals and Z-reports, pull the roster, rules and menu
(:mod:`.http`, :mod:`.push`, :mod:`.pull`), in a background thread that keeps the link state (:mod:`.worker`).
Log lines carry codes, counts, seqs and meal ids: never a name, an ID number, a category, a card key."""

from terminal.sync.http import SyncFailure, read_credential
from terminal.sync.pull import PullResult
from terminal.sync.push import PushResult, z_report_body
from terminal.sync.worker import (
    NotConnected,
    ServerLink,
    ServerLinkSource,
    SyncSettings,
    SyncState,
    SyncStatus,
    SyncWorker,
)

__all__ = [
    "NotConnected",
    "PullResult",
    "PushResult",
    "ServerLink",
    "ServerLinkSource",
    "SyncFailure",
    "SyncSettings",
    "SyncState",
    "SyncStatus",
    "SyncWorker",
    "read_credential",
    "z_report_body",
]
