"""Check a terminal's ledger (e.g. restored from its local backup) against the server's copy of its meals:

    verify_ledger.py LEDGER DATABASE_URL

Both sides hold each record's hash (the hash chain of invariant 4). The script compares, seq by seq, the records
both hold, and prints the digest of each side over the shared range (sha256 of "seq meal_id hash" lines). Exit 0:
every shared record is identical, and what only one side has is explained — records only in the ledger are not
synced yet (the terminal will push them); records only on the server mean the ledger is OLDER than the server
(restored from an earlier backup): exit 3, the terminal must not sell until the ledger is replaced by a newer
copy. Exit 1: a record differs (a fork or a tampered copy): investigate before the terminal sells again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import uuid

import sqlalchemy as sa


def _ledger(path: str) -> tuple[str, dict[int, tuple[str, str]]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT seq, terminal_id, meal_id, hash FROM meals ORDER BY seq").fetchall()
    terminals = {r[1] for r in rows}
    if len(terminals) > 1:
        raise SystemExit(f"the ledger holds records of {len(terminals)} terminals")
    terminal = terminals.pop() if terminals else ""
    return terminal, {int(r[0]): (str(uuid.UUID(str(r[2]))), str(r[3])) for r in rows}


def _server(url: str, terminal_id: str) -> dict[int, tuple[str, str]]:
    engine = sa.create_engine(url)
    try:
        query = sa.text("SELECT seq, meal_id, hash FROM meals WHERE terminal_id = :t ORDER BY seq").bindparams(
            sa.bindparam("t", type_=sa.Uuid())
        )
        with engine.connect() as conn:
            rows = conn.execute(query.columns(meal_id=sa.Uuid()), {"t": uuid.UUID(terminal_id)}).all()
    finally:
        engine.dispose()
    return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}


def _digest(records: dict[int, tuple[str, str]], seqs: list[int]) -> str:
    h = hashlib.sha256()
    for seq in seqs:
        meal_id, record_hash = records[seq]
        h.update(f"{seq} {meal_id} {record_hash}\n".encode())
    return h.hexdigest()


def verify(ledger_path: str, url: str) -> int:
    terminal, mine = _ledger(ledger_path)
    if not terminal:
        print("the ledger is empty")
        return 0
    theirs = _server(url, terminal)
    shared = sorted(set(mine) & set(theirs))
    differ = [s for s in shared if mine[s] != theirs[s]]
    only_ledger = sorted(set(mine) - set(theirs))
    only_server = sorted(set(theirs) - set(mine))
    print(f"terminal {terminal}: ledger {len(mine)} records, server {len(theirs)}, shared {len(shared)}")
    print(f"ledger digest over shared: {_digest(mine, shared)}")
    print(f"server digest over shared: {_digest(theirs, shared)}")
    if differ:
        print(f"DIFFERENT records at seq {differ[:20]}: the copies have forked — investigate", file=sys.stderr)
        return 1
    if only_server:
        print(
            f"the server holds {len(only_server)} records the ledger lacks (seq {only_server[0]}..{only_server[-1]}): "
            "this ledger is older than the server's copy — restore a newer backup before selling",
            file=sys.stderr,
        )
        return 3
    if only_ledger:
        print(f"{len(only_ledger)} records not on the server yet (seq {only_ledger[0]}..): the terminal will push them")
    print("ok: every shared record is identical")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: verify_ledger.py LEDGER DATABASE_URL", file=sys.stderr)
        sys.exit(2)
    sys.exit(verify(sys.argv[1], sys.argv[2]))
