"""Push: each meal stored exactly once, held_through, duplicates, conflicts, rejections, limits."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ruyi.meal import seal
from server.config import Settings
from tests.server.conftest import Api
from tests.server.sync.helpers import PULL, PUSH, World, now_utc


def test_push_stores_each_meal_and_answers_how_far_it_holds(world: World) -> None:
    chain = world.chain(world.ta)
    chain.sale(elder=world.elders[0])
    chain.walk_ins(3)
    chain.sale(elder=world.elders[2], slot="dinner")
    body = world.push(world.ta, chain.records)
    assert body["held_through"] == 5
    assert body["head_hash"] == chain.records[-1].hash
    assert [r["outcome"] for r in body["results"]] == ["stored"] * 5
    assert world.count() == 5
    assert world.flags() == []  # clean meals carry no flag
    with world.api.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT price, subsidy, elder_pays, service_date, canonical, hash FROM meals WHERE seq = 1")
        ).one()
    first = chain.records[0]
    assert (row.price, row.subsidy, row.elder_pays) == (first.quote.price, first.quote.subsidy, first.quote.elder_pays)
    assert row.hash == first.hash and '"seq":1' in row.canonical


def test_the_same_batch_twice_changes_nothing(world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(4)
    chain.sale(elder=world.elders[1])
    world.push(world.ta, chain.records)
    before = (world.count(), world.count("meal_flags"), world.count("sync_alerts"))
    again = world.push(world.ta, chain.records)
    assert [r["outcome"] for r in again["results"]] == ["duplicate"] * 5
    assert again["held_through"] == 5
    assert (world.count(), world.count("meal_flags"), world.count("sync_alerts")) == before


def test_batches_out_of_order_end_held_and_unflagged(world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(30)
    b1, b2, b3 = chain.records[:10], chain.records[10:20], chain.records[20:]
    assert world.push(world.ta, b3)["held_through"] == 0
    assert world.open_flags() == [(21, "chain_gap")]  # a hole before it, for now
    assert world.push(world.ta, b1)["held_through"] == 10
    body = world.push(world.ta, b2)
    assert body["held_through"] == 30 and body["head_hash"] == chain.records[-1].hash
    assert world.count() == 30
    assert world.open_flags() == []  # the gap was filled by records that link: resolved, kept
    assert world.flags() == [(world.ta.id, 21, "chain_gap", True)]


def test_records_within_a_batch_out_of_order(world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(6)
    shuffled = [chain.records[i] for i in (3, 0, 5, 1, 4, 2)]
    assert world.push(world.ta, shuffled)["held_through"] == 6
    assert world.open_flags() == []


def test_same_id_other_content_is_a_conflict_and_the_original_stands(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    chain = world.chain(world.ta)
    original = chain.sale(elder=world.elders[0])
    world.push(world.ta, [original])
    forged = seal(
        original.model_copy(
            update={"quote": original.quote.model_copy(update={"elder_pays": 1, "subsidy": original.quote.price - 1})}
        )
    )
    with caplog.at_level(logging.WARNING, logger="ruyi.sync"):
        body = world.push(world.ta, [forged], status=409)
    assert body["results"][0]["outcome"] == "conflict"
    assert body["held_through"] == 1
    with world.api.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT hash, elder_pays FROM meals")).one()
        alerts = conn.execute(sa.text("SELECT code, evidence FROM sync_alerts")).all()
    assert stored.hash == original.hash and stored.elder_pays == original.quote.elder_pays
    assert len(alerts) == 1 and alerts[0].code == "conflict"
    assert "conflict" in caplog.text and str(original.meal_id) in caplog.text
    assert "张" not in caplog.text and world.elders[0] not in caplog.text  # no personal data in the log line


def test_another_meal_at_a_held_seq_is_a_conflict(world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(2)
    world.push(world.ta, chain.records)
    other = world.chain(world.ta)
    other.walk_ins(2)  # a different meal at seq 1 and 2 (say, a ledger restored from an old copy)
    body = world.push(world.ta, other.records, status=409)
    assert [r["detail"] for r in body["results"]] == ["seq_taken", "seq_taken"]
    assert world.count() == 2


def test_two_new_meals_at_one_seq_in_one_batch_the_first_is_stored(world: World) -> None:
    """The set-based insert keeps the batch's order: of two new meals at one seq the first wins, the second is
    a conflict, and nothing of the second is stored."""
    chain, other = world.chain(world.ta), world.chain(world.ta)
    chain.walk_ins(2)
    other.walk_ins(1)
    body = world.push(world.ta, [chain.records[0], other.records[0], chain.records[1]], status=409)
    assert [(r["outcome"], r["detail"]) for r in body["results"]] == [
        ("stored", None),
        ("conflict", "seq_taken"),
        ("stored", None),
    ]
    assert body["held_through"] == 2 and world.count() == 2
    with world.api.engine.connect() as conn:
        held = set(conn.execute(sa.text("SELECT hash FROM meals")).scalars())
    assert held == {chain.records[0].hash, chain.records[1].hash}


def test_records_of_another_terminal_or_canteen_are_rejected(world: World) -> None:
    mine, theirs = world.chain(world.ta), world.chain(world.tb)
    mine.walk_ins(1)
    theirs.walk_ins(1)
    body = world.push(world.ta, [mine.records[0], theirs.records[0]])
    assert [r["outcome"] for r in body["results"]] == ["stored", "rejected"]
    assert world.count() == 1 and world.count("sync_alerts") == 1


def test_unsupported_protocol_is_426(world: World) -> None:
    r = world.api.client.post(PUSH, headers=world.ta.headers, json={"protocol": 2, "whatever": True})
    assert r.status_code == 426 and r.json()["error"] == "sync.upgrade_required"
    r = world.api.client.get(PULL, headers=world.ta.headers, params={"protocol": 9})
    assert r.status_code == 426 and r.json()["error"] == "sync.upgrade_required"


def test_batch_bounds(world: World) -> None:
    r = world.api.client.post(
        PUSH, headers={**world.ta.headers, "content-type": "application/json"}, content=b"[" + b" " * (5 << 20) + b"]"
    )
    assert r.status_code == 413
    chain = world.chain(world.ta)
    chain.walk_ins(501)
    world.push(world.ta, chain.records, status=422)  # more than MAX_BATCH_RECORDS


def test_only_terminals_push(api: Api, world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(1)
    body = {"terminal_clock": now_utc().isoformat(), "records": [chain.records[0].model_dump(mode="json")]}
    assert api.client.post(PUSH, headers=api.admin, json=body).status_code == 403
    assert api.client.post(PUSH, json=body).status_code == 401
    assert api.client.get(PULL, headers=api.admin).status_code == 403


def test_meals_are_append_only(world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(1)
    world.push(world.ta, chain.records)
    for statement in ("UPDATE meals SET price = 1", "DELETE FROM meals"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), world.api.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_late_void_is_stored_after_its_sale(world: World) -> None:
    chain = world.chain(world.ta)
    chain.walk_ins(1, start=now_utc() - timedelta(minutes=5))
    world.push(world.ta, chain.records)
    assert world.push(world.ta, chain.records)["results"][0]["outcome"] == "duplicate"


def test_placeholder_sync_keys_refused_outside_development() -> None:
    good = "0123456789abcdef-long-enough"
    for field, env in (("card_key_secret", "RUYI_CARD_KEY_SECRET"), ("category_key", "RUYI_CATEGORY_KEY")):
        keys = {"card_key_secret": good, "category_key": good, field: "changeme"}
        with pytest.raises(ValueError, match=env):
            Settings(environment="production", secret_key=good, **keys)  # type: ignore[arg-type]
    assert Settings(environment="development").card_key_secret == "changeme"
