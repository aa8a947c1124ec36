"""Prometheus text-format metrics: the request latency histogram of this process, and gauges read from the
database at scrape time (so every server process answers the same for them).

| metric | labels | what |
|---|---|---|
| ``ruyi_http_request_duration_seconds`` (histogram) | method, route, status | this process's request latency |
| ``ruyi_meals_last_minute`` | canteen | meals received in the last 60 s (meals/min) |
| ``ruyi_meals_received_total`` | canteen | meals held |
| ``ruyi_terminal_held_through`` | terminal, canteen | the highest seq held without a gap |
| ``ruyi_terminal_meals_beyond_gap`` | terminal, canteen | meals held above a gap (sent, waiting for the missing ones) |
| ``ruyi_terminal_last_sync_age_seconds`` | terminal, canteen | seconds since the terminal's last push |
| ``ruyi_intake_flags`` | code | meals flagged at intake, by flag code |
| ``ruyi_sync_alerts`` | code | conflicts and chain alerts, by code |

The server cannot know a terminal's unsynced count (meals it has not sent yet); the terminal shows it on its
status bar. Labels are canteen codes and terminal ids: no personal data.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.base import UTCDateTime, utcnow

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """A thread-safe cumulative histogram keyed by a label tuple."""

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...], buckets: tuple[float, ...] = BUCKETS):
        self.name, self.help, self.label_names, self.buckets = name, help_text, label_names, buckets
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            total[0] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            series = {k: (list(c), t[0]) for k, (c, t) in self._series.items()}
        for labels, (counts, total) in sorted(series.items()):
            base = _labels(zip(self.label_names, labels, strict=True))
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(
                    f"{self.name}_bucket{_labels([*zip(self.label_names, labels, strict=True), ('le', le)])} {running}"
                )
            lines.append(f"{self.name}_sum{base} {total:.6f}")
            lines.append(f"{self.name}_count{base} {running}")
        return lines


REQUEST_LATENCY = Histogram(
    "ruyi_http_request_duration_seconds",
    "Request latency of this server process, by route template.",
    ("method", "route", "status"),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _gauge(name: str, help_text: str, rows: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels(sorted(labels.items()))} {value:g}" for labels, value in rows]
    return lines


@dataclass(frozen=True)
class _Counts:
    codes: dict[uuid.UUID, str]
    per_minute: Sequence[Any]
    held: Sequence[Any]
    terminals: Sequence[Any]
    flags: Sequence[Any]
    alerts: Sequence[Any]


def _counts(engine: sa.Engine, minute_ago: datetime) -> _Counts:
    """A few grouped queries, indexed by canteen/terminal. The columns are typed so that both databases answer
    alike: ids as UUIDs (SQLite keeps them as bare hex), times as aware datetimes (SQLite keeps them as text)."""
    uid = sa.Uuid()
    with engine.connect() as conn:
        codes = {
            r[0]: str(r[1])
            for r in conn.execute(
                sa.text("SELECT id, code FROM canteens").columns(sa.column("id", uid), sa.column("code"))
            )
        }
        per_minute = conn.execute(
            sa.text("SELECT canteen_id, count(*) AS n FROM meals WHERE received_at >= :t GROUP BY canteen_id")
            .bindparams(sa.bindparam("t", type_=UTCDateTime()))
            .columns(sa.column("canteen_id", uid), sa.column("n")),
            {"t": minute_ago},
        ).all()
        held = conn.execute(
            sa.text("SELECT canteen_id, count(*) AS n FROM meals GROUP BY canteen_id").columns(
                sa.column("canteen_id", uid), sa.column("n")
            )
        ).all()
        terminals = conn.execute(
            sa.text(
                "SELECT t.id, t.canteen_id, s.held_through, s.last_push_at, "
                "(SELECT count(*) FROM meals m WHERE m.terminal_id = t.id AND m.seq > coalesce(s.held_through, 0)) "
                "AS beyond "
                "FROM terminals t LEFT JOIN sync_terminals s ON s.terminal_id = t.id "
                "WHERE t.revoked_at IS NULL"
            ).columns(
                sa.column("id", uid),
                sa.column("canteen_id", uid),
                sa.column("held_through"),
                sa.column("last_push_at", UTCDateTime()),
                sa.column("beyond"),
            )
        ).all()
        flags = conn.execute(sa.text("SELECT code, count(*) FROM meal_flags GROUP BY code")).all()
        alerts = conn.execute(sa.text("SELECT code, count(*) FROM sync_alerts GROUP BY code")).all()
    return _Counts(codes, per_minute, held, terminals, flags, alerts)


def database_metrics(engine: sa.Engine) -> list[str]:
    """Gauges from the database."""
    now = utcnow()
    counts = _counts(engine, now - timedelta(seconds=60))

    def code(canteen_id: uuid.UUID) -> str:
        return counts.codes.get(canteen_id, str(canteen_id))

    per_minute, held, terminals, flags, alerts = (
        counts.per_minute, counts.held, counts.terminals, counts.flags, counts.alerts
    )  # fmt: skip
    seen = {code(cid) for cid in counts.codes}
    minute = {code(r[0]): r[1] for r in per_minute}
    lines = _gauge(
        "ruyi_meals_last_minute",
        "Meals received in the last 60 seconds, per canteen.",
        (({"canteen": c}, minute.get(c, 0)) for c in sorted(seen)),
    )
    lines += _gauge(
        "ruyi_meals_received_total", "Meals held, per canteen.", (({"canteen": code(r[0])}, r[1]) for r in held)
    )
    term_rows = [(str(r[0]), code(r[1]), r[2] or 0, r[3], r[4] or 0) for r in terminals]
    lines += _gauge(
        "ruyi_terminal_held_through",
        "Highest sequence number held without a gap, per terminal.",
        (({"terminal": t, "canteen": c}, h) for t, c, h, _, _ in term_rows),
    )
    lines += _gauge(
        "ruyi_terminal_meals_beyond_gap",
        "Meals held above the first gap, waiting for the missing ones (unsent meals are not known here).",
        (({"terminal": t, "canteen": c}, b) for t, c, _, _, b in term_rows),
    )
    ages = []
    for t, c, _, last, _ in term_rows:
        if last is not None:
            ages.append(({"terminal": t, "canteen": c}, max(0.0, (now - last).total_seconds())))
    lines += _gauge("ruyi_terminal_last_sync_age_seconds", "Seconds since the terminal's last push.", ages)
    lines += _gauge(
        "ruyi_intake_flags", "Meals flagged at intake, by flag code.", (({"code": r[0]}, r[1]) for r in flags)
    )
    lines += _gauge(
        "ruyi_sync_alerts", "Sync conflicts and chain alerts, by code.", (({"code": r[0]}, r[1]) for r in alerts)
    )
    return lines


def render(engine: sa.Engine) -> str:
    start = time.perf_counter()
    lines = [*REQUEST_LATENCY.render(), *database_metrics(engine)]
    lines += _gauge("ruyi_metrics_scrape_seconds", "How long this scrape took.", [({}, time.perf_counter() - start)])
    return "\n".join(lines) + "\n"
