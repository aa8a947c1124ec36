"""A terminal sync process for the kill -9 test: opens the ledger given on the command line and runs the sync
worker until killed (the parent kills it at random moments and starts another).

``python -m tests.terminal.sync.child LEDGER STATE SNAPSHOT URL TERMINAL_ID CANTEEN_ID CREDENTIAL_FILE``
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from pathlib import Path

from terminal.ledger import Ledger
from terminal.snapshot import load_snapshot
from terminal.sync import SyncSettings, SyncWorker, read_credential
from tests.terminal.sync.live import ZONE


def main(argv: list[str]) -> int:
    ledger_path, state, snapshot, url, terminal_id, canteen_id, cred = argv
    ledger = Ledger.open(Path(ledger_path), terminal_id=terminal_id, canteen_id=canteen_id, zone=ZONE)
    worker = SyncWorker(
        ledger=ledger,
        settings=SyncSettings(
            server_url=url,
            timeout_s=2.0,
            backoff_base_s=0.02,
            backoff_max_s=0.2,
            push_delay_s=0.0,
            push_interval_s=0.05,
            pull=False,
            max_batch_records=5,
        ),
        credential=lambda: read_credential(Path(cred)),
        state_path=Path(state),
        snapshot=load_snapshot(Path(snapshot)),
        snapshot_path=Path(snapshot),
        clock=lambda: datetime.now(ZONE),
    )
    worker.start()
    print("ready", flush=True)
    threading.Event().wait()  # until SIGKILL
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
