"""Tampering with a terminal ledger is detected at the next sync; clean ledgers raise no flag."""

from __future__ import annotations

import random

from ruyi.meal import MealRecord, seal
from tests.server.sync.helpers import Chain, World


def ledger(world: World, n: int = 12) -> Chain:
    chain = world.chain(world.ta)
    for i in range(n):
        chain.sale(elder=world.elders[i % 4] if i < 4 else None)
    return chain


def test_clean_chains_in_many_batch_shapes_raise_no_flag(world: World) -> None:
    rng = random.Random(7)
    a, b = world.chain(world.ta), world.chain(world.tb)
    a.walk_ins(60)
    b.walk_ins(35)
    for chain, term in ((a, world.ta), (b, world.tb)):
        i = 0
        while i < len(chain.records):
            size = rng.randint(1, 17)
            world.push(term, chain.records[i : i + size])
            if rng.random() < 0.3:  # a response was lost: the terminal sends the same batch again
                world.push(term, chain.records[i : i + size])
            i += size
    assert world.flags() == []
    assert world.count() == 95


def test_a_deleted_middle_record_is_a_gap(world: World) -> None:
    chain = ledger(world)
    sent = chain.records[:5] + chain.records[6:]
    body = world.push(world.ta, sent)
    assert body["held_through"] == 5  # the terminal keeps offering the rest: nothing past the hole is acknowledged
    assert world.open_flags() == [(7, "chain_gap")]


def test_a_changed_amount_is_altered(world: World) -> None:
    chain = ledger(world)
    r = chain.records[5]
    chain.records[5] = r.model_copy(
        update={"quote": r.quote.model_copy(update={"price": 1, "elder_pays": 1, "subsidy": 0})}
    )
    world.push(world.ta, chain.records)
    assert "chain_altered" in {c for s, c in world.open_flags() if s == 6}


def test_a_changed_amount_resealed_breaks_the_next_link(world: World) -> None:
    chain = ledger(world)
    r = chain.records[5]
    chain.records[5] = seal(r.model_copy(update={"payment_method": "wechat"}))
    world.push(world.ta, chain.records)
    assert world.open_flags() == [(7, "chain_break")]


def test_two_swapped_records_are_altered(world: World) -> None:
    chain = ledger(world)
    a, b = chain.records[4], chain.records[5]
    swap = {"seq", "prev_hash", "hash"}
    chain.records[4] = MealRecord.model_validate({**b.model_dump(exclude=swap), **a.model_dump(include=swap)})
    chain.records[5] = MealRecord.model_validate({**a.model_dump(exclude=swap), **b.model_dump(include=swap)})
    world.push(world.ta, chain.records)
    flagged = {(s, c) for s, c in world.open_flags()}
    assert {(5, "chain_altered"), (6, "chain_altered")} <= flagged
    assert {s for s, _c in flagged} == {5, 6}


def test_truncated_then_continued_is_a_fork_and_a_break(world: World) -> None:
    chain = ledger(world, 8)
    world.push(world.ta, chain.records)
    stored = [r.hash for r in chain.records]
    chain.records = chain.records[:5]  # the ledger is cut back to seq 5 and selling goes on
    chain.walk_ins(5)
    body = world.push(world.ta, chain.records[5:], status=409)
    assert [r["outcome"] for r in body["results"]] == ["conflict"] * 3 + ["stored"] * 2
    assert body["held_through"] == 10 and body["head_hash"] == chain.records[-1].hash
    flags = set(world.open_flags())
    assert {(6, "chain_fork"), (7, "chain_fork"), (8, "chain_fork"), (9, "chain_break")} == flags
    assert stored[5] != chain.records[5].hash  # the originals stand (checked by the conflict answer)


def test_another_terminals_chain_spliced_in(world: World) -> None:
    mine, theirs = ledger(world), world.chain(world.ta2)
    theirs.walk_ins(4)
    sent = mine.records[:4] + theirs.records[2:4] + mine.records[6:]
    body = world.push(world.ta, sent)
    assert [r["outcome"] for r in body["results"]][4:6] == ["rejected", "rejected"]
    assert world.count("sync_alerts") == 2
    assert world.open_flags() == [(7, "chain_gap")]
