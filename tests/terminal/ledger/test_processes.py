"""Several processes on one ledger, and processes killed with SIGKILL while recording."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from uuid import UUID

from ruyi.meal import verify_chain
from tests.terminal.ledger.builders import open_ledger

ROOT = Path(__file__).resolve().parents[3]
CHILD = [sys.executable, "-m", "tests.terminal.ledger.child"]
LONG_AGO = date(2000, 1, 1)


def spawn(path: Path, seed: int, count: int, *, wait: bool = False, pace: bool = False) -> subprocess.Popen[str]:
    args = [*CHILD, str(path), str(seed), str(count), *(["--wait"] if wait else []), *(["--pace"] if pace else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def reported(output: str) -> dict[str, set[UUID]]:
    """What the child said it had done; a line cut short by the kill is ignored."""
    seen: dict[str, set[UUID]] = defaultdict(set)
    for line in output.splitlines(keepends=True):
        if not line.endswith("\n") or " " not in line:
            continue
        what, _, ident = line.strip().partition(" ")
        try:
            seen[what].add(UUID(ident))
        except ValueError:
            continue
    return seen


def test_two_processes_recording_at_once_share_one_gapless_chain(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    open_ledger(path).close()
    n = 250
    children = [spawn(path, seed, n, wait=True, pace=True) for seed in (1, 2)]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
    for child in children:  # both go
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = []
    for child in children:
        text, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(reported(text))
    with open_ledger(path) as ledger:
        records = ledger.records()
        assert [r.seq for r in records] == list(range(1, 2 * n + 1))
        assert len({r.meal_id for r in records}) == 2 * n
        assert verify_chain(records) == []
        assert ledger.integrity_check()
        stored = {r.meal_id for r in records}
        for out in outputs:
            assert out["sale"] | out["void"] <= stored
            assert len(out["sale"]) + len(out["void"]) == n
        # The two really interleaved: neither ran all its meals in one block.
        first_writer = [r.meal_id in outputs[0]["sale"] | outputs[0]["void"] for r in records]
        switches = sum(a != b for a, b in itertools.pairwise(first_writer))
        assert switches > 10


def check_after_kill(path: Path, said: dict[str, set[UUID]]) -> int:
    with open_ledger(path) as ledger:
        report = ledger.integrity_report()
        assert report.ok, report
        records = ledger.records()
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        stored = {r.meal_id: r for r in records}
        assert said["sale"] <= stored.keys(), "a meal reported as committed is missing"
        assert said["void"] <= stored.keys()
        jobs = dict(
            ledger._db.execute(
                "SELECT receipt_of, state FROM print_jobs p WHERE id = (SELECT MAX(id) FROM print_jobs q"
                " WHERE q.receipt_of = p.receipt_of)"
            ).fetchall()
        )
        for meal_id in said["printed"]:
            assert jobs.get(str(meal_id)) == "printed"
        voided = {r.refers_to for r in records if r.kind == "void"}
        queue = {r.meal_id for r in ledger.reprint_queue(since=LONG_AGO)}
        waiting = {
            r.meal_id
            for r in records
            if (r.kind == "void" or (r.kind == "sale" and r.meal_id not in voided))
            and jobs.get(str(r.meal_id)) != "printed"
        }
        assert queue == waiting
        # A committed sale whose receipt failed is offered for reprint (unless voided since); one the child never
        # got to report printing is either offered or was printed just before the kill.
        assert {m for m in said["failed"] if m not in voided} <= queue
        for m in said["sale"] - said["printed"] - voided:
            assert m in queue or jobs.get(str(m)) == "printed"
        assert not said["printed"] & queue
        return len(records)


def test_kill_minus_9_while_recording_loses_nothing_committed(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    shared = tmp_path / "ledger.sqlite3"
    kills = 0
    deadline = time.monotonic() + 45
    total = 0
    while kills < 60 and (kills < 50 or time.monotonic() < deadline):
        fresh = kills % 8 == 7  # now and then: a new file, killed while still opening or creating it
        path = tmp_path / f"fresh-{kills}.sqlite3" if fresh else shared
        child = spawn(path, seed=kills, count=0)
        assert child.stdout is not None
        if fresh:
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            assert child.stdout.readline() == "ready\n", child.stderr.read() if child.stderr else ""
            time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.005), rng.uniform(0.0, 0.05)]))
        child.send_signal(signal.SIGKILL)
        out, _err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        kills += 1
        if fresh and not path.exists():
            continue
        n = check_after_kill(path, reported(out))
        if not fresh:
            total = n
    assert kills >= 50
    assert total > 0
