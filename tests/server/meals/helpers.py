"""Random intake through the real push endpoint (sales, voids of anything, out of order, again, in conflict), and
the rollups as a comparable value."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ruyi.meal import MealRecord, seal, uuid7
from server.meals.rollups import AMOUNTS, KEYS, Key
from server.meals.tables import MealActivity, MealElderDay
from tests.server.sync.helpers import Chain, World

ZONE = ZoneInfo("Asia/Shanghai")


def random_intake(
    world: World, rng: random.Random, *, days: Sequence[date], records: int = 60, cross_canteen: bool = True
) -> list[MealRecord]:
    """``records`` records over ``days`` on the world's three terminals: sales of the four elders and walk-ins,
    by card or manually, lunch and dinner; one in five a void of an earlier record, whichever (a sale, a voided
    sale, a void; another terminal's, of another canteen only if ``cross_canteen``). Each terminal's ledger is
    pushed in random batches in random order (voids before their sales), a quarter of the batches twice, and
    then two conflicting records (a stored meal id with other content, a taken sequence number)."""
    chains = [world.chain(t) for t in (world.ta, world.ta2, world.tb)]
    made: list[MealRecord] = []
    while len(made) < records:
        chain = rng.choice(chains)
        targets = [r for r in made if cross_canteen or r.canteen_id == chain.term.canteen_id]
        if targets and rng.random() < 0.2:
            made.append(chain.void(rng.choice(targets)))
            continue
        elder = rng.choice([None, *world.elders])
        when = datetime.combine(rng.choice(days), time(rng.randrange(10, 19), rng.randrange(60)), ZONE)
        made.append(
            chain.sale(
                elder=elder,
                when=when,
                slot="lunch" if when.hour < 15 else "dinner",
                by=rng.choice(("card", "manual")) if elder else "card",
            )
        )
    batches: list[tuple[Chain, list[MealRecord]]] = []
    for chain in chains:
        i = 0
        while i < len(chain.records):
            k = rng.randint(1, 6)
            batches.append((chain, chain.records[i : i + k]))
            i += k
    rng.shuffle(batches)
    for chain, batch in batches + rng.sample(batches, len(batches) // 4):
        world.push(chain.term, batch, status=None)
    stored = rng.choice([r for r in made if r.kind == "sale"])
    chain = next(c for c in chains if c.term.id == stored.terminal_id)
    other = seal(stored.model_copy(update={"cashier": "c9"}))
    taken = seal(
        stored.model_copy(update={"meal_id": uuid7(int(stored.service_time.timestamp() * 1000), rng.randbytes(10))})
    )
    for record in (other, taken):
        assert world.push(chain.term, [record], status=409)["results"][0]["outcome"] == "conflict"
    return made


def past_days(n: int) -> list[date]:
    """The ``n`` days before yesterday (in the past whatever the hour, recent enough for intake)."""
    today = datetime.now(ZONE).date()
    return [today - timedelta(days=d) for d in range(2, 2 + n)]


def snapshot(conn: sa.Connection) -> dict[Key, tuple[int, ...]]:
    """The rollup rows as {key: amounts}, rows of zeros left out (see :func:`activity` for the other table)."""
    table = MealElderDay.__table__  # type: ignore[attr-defined]
    out: dict[Key, tuple[int, ...]] = {}
    for r in conn.execute(sa.select(table)):
        m = r._mapping
        amounts = tuple(int(m[a]) for a in AMOUNTS)
        if any(amounts):
            key = tuple(m[k] for k in KEYS)
            out[(uuid.UUID(str(key[0])), key[1], key[2], uuid.UUID(str(key[3])))] = amounts
    return out


def activity(conn: sa.Connection) -> dict[tuple[uuid.UUID, date, uuid.UUID], datetime]:
    """``meal_activity`` as {(canteen, month, terminal): received_at}."""
    table = MealActivity.__table__  # type: ignore[attr-defined]
    return {(r.canteen_id, r.month, r.terminal_id): r.received_at for r in conn.execute(sa.select(table))}
