"""Push: the ledger's records after what the server acknowledged, in seq order, in batches bounded by record count
and bytes; then the Z-reports stored after the last one the server took.

The ledger's sync cursor moves only up to the server's ``held_through`` (never beyond the ledger's head, never
back), so a lost answer, a timeout or a crash means only that a batch is sent again; the server stores each meal
once. A 409 is a processed batch with a conflict: logged (seq and meal id only) and counted. Z-reports go oldest
first; each answer moves the acknowledged row id (kept by the worker's state file: the ledger is append-only).
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from ruyi.meal import MealRecord
from ruyi.sync import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, SYNC_PROTOCOL, PushResponse, ZReportAck, ZReportIn
from terminal.ledger import Ledger, ZReport
from terminal.sync.http import PUSH_PATH, Z_REPORTS_PATH, SyncFailure, SyncHttp

log = logging.getLogger("terminal.sync")


@dataclass(frozen=True, slots=True)
class PushResult:
    batches: int = 0
    sent: int = 0
    held_through: int = 0
    conflicts: int = 0
    rejected: int = 0


class Pusher:
    """Sends what the server lacks. ``stop`` set: no further batch (or Z-report) is started."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        http: SyncHttp,
        protocol: int,
        gzip: bool,
        max_batch_records: int,
        max_batch_bytes: int,
        clock: Callable[[], datetime],
        stop: threading.Event,
    ) -> None:
        self.ledger = ledger
        self._http = http
        self._protocol = protocol
        self._gzip = gzip
        self.max_records = min(max_batch_records, MAX_BATCH_RECORDS)
        self.max_bytes = min(max_batch_bytes, MAX_BATCH_BYTES)
        self._clock = clock
        self._stop = stop

    def push_pending(
        self, token: str, *, snapshot_at: Callable[[], datetime], on_batch: Callable[[int, int, int], None]
    ) -> PushResult:
        """Push every record after the server's acknowledged seq, batch by batch, moving the ledger's cursor to each
        answer's ``held_through`` (``on_batch(held_through, conflicts, rejected)`` after each). Raises
        :class:`SyncFailure` on the first batch that fails."""
        after = self.ledger.synced_up_to()
        last_held: int | None = None
        batches = sent = conflicts = rejected = 0
        held = after
        while not self._stop.is_set():  # stopping between batches is safe: the cursor is in the ledger
            records = self.ledger.unsynced(self.max_records, after_seq=after)
            if not records:
                break
            body, count = self._batch_body(records, snapshot_at())
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
            on_batch(held, new_conflicts, new_rejected)
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
            self.ledger.mark_synced(held, at=self._clock())

    def _batch_body(self, records: list[MealRecord], snapshot_at: datetime) -> tuple[bytes, int]:
        """The PushRequest JSON for the longest prefix of ``records`` within the byte bound (at least one)."""
        envelope = {
            "protocol": self._protocol,
            "terminal_clock": self._clock().isoformat(),
            "snapshot_created_at": snapshot_at.isoformat(),
        }
        head = json.dumps(envelope, separators=(",", ":"))[:-1] + ',"records":['
        parts: list[str] = []
        size = len(head) + 2
        for record in records:
            text = record.model_dump_json()
            if parts and size + len(text) + 1 > self.max_bytes:
                break
            parts.append(text)
            size += len(text) + 1
        return (head + ",".join(parts) + "]}").encode(), len(parts)

    def _post_batch(self, token: str, body: bytes) -> PushResponse:
        headers = {"Content-Type": "application/json"}
        if self._gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        response = self._http.request("POST", PUSH_PATH, token, content=body, headers=headers)
        if response.status_code == 413 and self.max_records > 1:
            self.max_records = max(1, self.max_records // 2)
            self.max_bytes = max(4096, self.max_bytes // 2)
            log.warning("sync: batch too large for the server; now at most %d records", self.max_records)
        self._http.check(response, (200, 409))
        try:
            return PushResponse.model_validate_json(response.content)
        except ValidationError:
            raise SyncFailure("sync.bad_response", "push answer does not match the contract") from None

    def send_z_reports(self, token: str, *, after: int, on_answered: Callable[[int], None]) -> int:
        """Send the ledger's Z-reports after row ``after``, oldest first (``on_answered(row_id)`` after each); the
        number the server took (stored, duplicate or conflict). One refused as invalid (422) is logged and passed
        over. Raises :class:`SyncFailure` on the first that fails otherwise (sent again next round)."""
        sent = 0
        for row_id, report in self.ledger.z_reports_after(after):
            if self._stop.is_set():
                break
            try:
                body = z_report_body(report, protocol=self._protocol).encode()
            except ValidationError:
                body = None
            response = None
            if body is not None:
                headers = {"Content-Type": "application/json"}
                response = self._http.request("POST", Z_REPORTS_PATH, token, content=body, headers=headers)
            if response is None or response.status_code == 422:
                # Refused as it stands (here or by the server): sending it again cannot help, and it must not
                # hold back the reports after it nor fail every round.
                log.error("sync: z-report of %s (row %d) not acceptable: skipped", report.day, row_id)
                if response is not None:
                    self._http.check(response, (422,))
            else:
                self._http.check(response, (200, 409))
                try:
                    ack = ZReportAck.model_validate_json(response.content)
                except ValidationError:
                    raise SyncFailure("sync.bad_response", "z-report answer does not match the contract") from None
                if ack.outcome == "conflict":
                    log.error("sync: z-report of %s (row %d) conflicts with the server's", report.day, row_id)
                sent += 1
            on_answered(row_id)
        return sent


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
