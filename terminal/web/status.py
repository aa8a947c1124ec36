"""What the status bar says about the central server. Sync fills this in later through :class:`ServerLinkSource`;
until then :class:`NotConnected` says 未连接服务器 (offline) from the moment the terminal started."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
    """No sync on this terminal yet: always offline, since the terminal started."""

    def __init__(self, started: datetime) -> None:
        self._link = ServerLink(reachable=False, since=started, configured=False)

    def server_link(self) -> ServerLink:
        return self._link
