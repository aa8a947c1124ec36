"""The whole programme's month: one row of totals per canteen (the programme exports and the city summary).

- A **closed** statement gives its stored totals and hash (read back and checked: :func:`~.closed.verify_stored`).
- An **open** month is summed from the daily rollups (``meal_elder_days``, :mod:`server.meals.rollups`) without
  reading a meal of it. In SQL: per canteen and day, the live sales' counts and amounts and the elders with a
  subsidised sale (rows of named elders with ``subsidised > 0``); per canteen, the distinct such elders of the
  month. Then, in Python, the month's live sales that are **not paid** are taken out again: held (a holding
  flag, no decision) or rejected, exactly as :func:`ruyi.settlement.settle` decides them (they are few and read
  one by one, through the flags and decisions), with the elder-day rows of their elders, to know which elder is
  then no longer served that day or that month. The operating subsidy (per day, under the version then in force,
  monthly cap included) and every total come from :func:`ruyi.settlement.month_totals`, the function the full
  statement uses, with the bureau's construction lines and corrections.
- A canteen with an earlier closed month that is settled in this one and saw something late
  (:func:`~.closed.late_months`, for all canteens at once) gets its full statement instead: its adjustments need
  the meals. So does a canteen with subsidised meals of an elder whose status, categories, details or cards
  changed since the month began (:func:`~.registry.touched_canteens`): its statement prices those meals again
  against the registry now (``eligibility_changed``); a change recorded earlier was seen by intake.

So every canteen's totals are its statement's, to the fen (tests compare them on random months). Open
statements have no hash here: it would change with every meal that arrives, and the canteen's own export
carries its full lines and hash.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.export import ProgrammeDoc, ProgrammeRow, programme_total
from ruyi.rules import RuleBook
from ruyi.settlement import Month, PaidDay, SettlementConfig, Totals, canonical_json, month_totals
from server.canteens.tables import Canteen
from server.meals import rollups
from server.meals.tables import Meal, MealElderDay, MealFlag
from server.months import months_between, parse_month
from server.rules.service import load_book
from server.settlements import service
from server.settlements.closed import late_months, verify_stored
from server.settlements.facts import Context, context
from server.settlements.registry import touched_canteens
from server.settlements.schemas import SummaryOut, SummaryRow
from server.settlements.tables import ClosedMonth, SettlementDecision, SettlementLine, SettlementStatement


@dataclass(frozen=True)
class ProgrammeEntry:
    canteen: Canteen
    figures: ProgrammeRow


def programme_month(
    session: Session, *, month: Month, category_key: str, config: SettlementConfig, card_secret: str = ""
) -> list[ProgrammeEntry]:
    """Every active canteen (and every canteen with a statement row for ``month``), by code."""
    canteens = list(session.exec(select(Canteen).order_by(col(Canteen.code))))
    rows = {
        r.canteen_id: r
        for r in session.exec(select(SettlementStatement).where(col(SettlementStatement.month) == str(month)))
    }
    listed = [c for c in canteens if c.active or c.id in rows]
    totals: dict[uuid.UUID, Totals] = {}
    for c in listed:
        row = rows.get(c.id)
        if row is not None and row.state == "closed":
            totals[c.id] = verify_stored(row).totals
    open_ = [c for c in listed if c.id not in totals]
    if open_:
        totals |= _open_totals(
            session,
            month=month,
            canteens=open_,
            rows=rows,
            category_key=category_key,
            config=config,
            card_secret=card_secret,
        )
    out = []
    for c in listed:
        row = rows.get(c.id)
        state = "none" if row is None else row.state
        digest = row.content_hash if row is not None and row.state == "closed" else None
        figures = ProgrammeRow(
            str(c.id), month, state, totals[c.id], digest,
            canteen_code=c.code, canteen_name=c.name, programme=c.programme,
        )  # fmt: skip
        out.append(ProgrammeEntry(c, figures))
    return out


def programme_doc(session: Session, month: Month, entries: Sequence[ProgrammeEntry]) -> ProgrammeDoc:
    """What the programme's CSV and XLSX show: the rows, the rule books of their programmes, and the sha256 of
    the programme's JSON export (:func:`programme_json`) as the content hash."""
    books = {}
    for code in sorted({e.canteen.programme for e in entries}):
        book = load_book(session, code)
        if book is not None:
            books[code] = book
    digest = hashlib.sha256(programme_json(month, entries)).hexdigest()
    return ProgrammeDoc(month, tuple(e.figures for e in entries), books, digest)


def programme_json(month: Month, entries: Sequence[ProgrammeEntry]) -> bytes:
    """The programme export's JSON: each canteen's state, hash and totals, and the total row (canonical bytes)."""
    body = {
        "month": str(month),
        "canteens": [
            {
                "canteen_id": e.figures.canteen_id,
                "canteen_code": e.canteen.code,
                "canteen_name": e.canteen.name,
                "programme": e.canteen.programme,
                "state": e.figures.state,
                "statement_hash": e.figures.statement_hash,
                "totals": e.figures.totals,
            }
            for e in entries
        ],
        "total": programme_total(e.figures for e in entries),
    }
    return canonical_json(body)


_SUMMED = ("meals", "subsidised_meals", "elder_days", "elder_subsidy", "operating", "construction", "adjustments",
           "payable", "held_meals")  # fmt: skip
"""The summary's totals (distinct elders do not add up across canteens)."""
_SUMMARY_FIELDS = (*_SUMMED, "elders")


def summary(
    session: Session,
    *,
    from_month: str,
    to_month: str,
    category_key: str,
    config: SettlementConfig,
    card_secret: str = "",
) -> SummaryOut:
    """City-wide: each canteen's figures for each month from ``from_month`` to ``to_month``, and their sums."""
    months = months_between(parse_month(from_month, "from_month"), parse_month(to_month, "to_month"))
    rows = [
        SummaryRow(
            canteen_id=e.canteen.id,
            canteen_code=e.canteen.code,
            canteen_name=e.canteen.name,
            month=str(m),
            state=e.figures.state,
            statement_hash=e.figures.statement_hash,
            **{f: getattr(e.figures.totals, f) for f in _SUMMARY_FIELDS},
        )
        for m in months
        for e in programme_month(session, month=m, category_key=category_key, config=config, card_secret=card_secret)
    ]
    totals = {k: sum(getattr(r, k) for r in rows) for k in _SUMMED}
    return SummaryOut(from_month=from_month, to_month=to_month, rows=rows, totals=totals)


def _open_totals(
    session: Session,
    *,
    month: Month,
    canteens: Sequence[Canteen],
    rows: Mapping[uuid.UUID, SettlementStatement],
    category_key: str,
    config: SettlementConfig,
    card_secret: str = "",
) -> dict[uuid.UUID, Totals]:
    contexts: dict[str, Context] = {}
    for c in canteens:
        if c.programme not in contexts:
            contexts[c.programme] = context(
                session, c, category_key=category_key, config=config, card_secret=card_secret
            )
    lines: dict[uuid.UUID, list[SettlementLine]] = defaultdict(list)
    found = session.exec(
        select(SettlementLine)
        .join(SettlementStatement, col(SettlementStatement.id) == col(SettlementLine.statement_id))
        .where(col(SettlementStatement.month) == str(month))
        .order_by(col(SettlementLine.statement_id), col(SettlementLine.line_no))
    )
    for line in found:
        lines[line.statement_id].append(line)
    # Months after this one are not closed while it is open (months close in order).
    closed: dict[uuid.UUID, dict[Month, datetime]] = defaultdict(dict)
    for canteen_id, m, at in session.execute(
        sa.select(col(ClosedMonth.canteen_id), col(ClosedMonth.month), col(ClosedMonth.closed_at)).where(
            col(ClosedMonth.month) < str(month)
        )
    ):
        closed[canteen_id][Month.parse(m)] = at
    ids = {c.id for c in canteens}
    late = late_months(
        session, month=month, closed={k: v for k, v in closed.items() if k in ids}, info_flags=config.info_flags
    )
    out: dict[uuid.UUID, Totals] = {}
    summed: dict[uuid.UUID, tuple[RuleBook, list[SettlementLine]]] = {}
    touched = touched_canteens(session, month=month, canteens=ids - late.keys())
    for c in canteens:
        ctx = contexts[c.programme]
        row = rows.get(c.id)
        bureau = lines.get(row.id, []) if row is not None else []
        if c.id not in late and c.id not in touched:  # the registry may hold meals of a touched canteen
            summed[c.id] = (ctx.book, bureau)
            continue
        probe = row or SettlementStatement(id=uuid.UUID(int=0), canteen_id=c.id, month=str(month), created_by="")
        computed = service.compute(
            session, row=probe, ctx=ctx, with_checks=False, lines=bureau, late=late.get(c.id, [])
        )
        out[c.id] = computed.settlement.statement.totals
    return out | rollup_totals(session, month=month, canteens=summed, info_flags=config.info_flags)


# ---------------------------------------------------------------------------------------------------------------
# Totals from the rollups

_DAY = ("meals", "subsidised_meals", "elders", "price", "elder_subsidy", "elder_pays")
""":class:`~ruyi.settlement.PaidDay`'s fields, the order of the per-day lists below."""


def rollup_totals(
    session: Session,
    *,
    month: Month,
    canteens: Mapping[uuid.UUID, tuple[RuleBook, Sequence[SettlementLine]]],
    info_flags: Collection[str],
) -> dict[uuid.UUID, Totals]:
    """The totals of ``canteens`` (each with its rule book and its statement's bureau lines) for ``month``, from
    the rollups and the month's unpaid live sales; for canteens with no earlier month to adjust."""
    if not canteens:
        return {}
    days: dict[uuid.UUID, dict[date, list[int]]] = defaultdict(dict)
    for canteen_id, day, *figures in session.execute(per_day_query(month)):
        days[canteen_id][day] = [int(x) for x in figures]
    elders: dict[uuid.UUID, int] = {c: int(n) for c, n in session.execute(elders_query(month))}

    held: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    removed: dict[rollups.Key, int] = defaultdict(int)
    """Subsidised sales taken out, per named elder's day."""
    for sale in session.execute(unpaid_query(month, info_flags)).mappings():
        key = rollups.key_of(sale)
        canteen_id, day, elder = key[0], key[1], key[2]
        if canteen_id not in canteens:
            continue
        figures = days[canteen_id][day]
        for i, amount in enumerate((1, int(sale["subsidised"]), 0, sale["price"], sale["subsidy"], sale["elder_pays"])):
            figures[i] -= amount
        if sale["decision"] is None:
            held[canteen_id][0] += 1
            held[canteen_id][1] += sale["subsidy"]
        if sale["subsidised"] and elder != rollups.WALK_IN:
            removed[key] += 1
    _no_longer_served(session, month=month, removed=removed, days=days, elders=elders)

    out = {}
    for canteen_id, (book, bureau) in canteens.items():
        meals_held, subsidy_held = held.get(canteen_id, (0, 0))
        out[canteen_id] = month_totals(
            {day: PaidDay(*figures) for day, figures in days.get(canteen_id, {}).items()},
            elders=elders.get(canteen_id, 0),
            rules=book,
            construction=sum(x.amount for x in bureau if x.kind == "construction"),
            adjustments=sum(x.amount for x in bureau if x.kind == "correction"),
            held_meals=meals_held,
            held_subsidy=subsidy_held,
        )
    return out


def _rollups() -> tuple[sa.Table, tuple[sa.ColumnElement[bool], ...]]:
    t = cast(sa.Table, MealElderDay.__table__)  # type: ignore[attr-defined]
    return t, (t.c.service_date >= sa.bindparam("first"), t.c.service_date < sa.bindparam("next"))


def _month(stmt: sa.Select[Any], month: Month) -> sa.Select[Any]:
    return stmt.params(first=month.first_day, next=month.next().first_day)


def per_day_query(month: Month) -> sa.Select[Any]:
    """Per canteen and day of ``month``: live sales, subsidised ones, named elders with a subsidised sale, price,
    subsidy, elder pays (in :class:`~ruyi.settlement.PaidDay`'s order)."""
    t, in_month = _rollups()
    served = sa.and_(t.c.subsidised > 0, t.c.elder_key != rollups.WALK_IN)
    stmt = sa.select(
        t.c.canteen_id,
        t.c.service_date,
        sa.func.sum(t.c.sales),
        sa.func.sum(t.c.subsidised),
        sa.func.count().filter(served),
        sa.func.sum(t.c.price),
        sa.func.sum(t.c.subsidy),
        sa.func.sum(t.c.elder_pays),
    ).where(*in_month)
    return _month(stmt.group_by(t.c.canteen_id, t.c.service_date), month)


def elders_query(month: Month) -> sa.Select[Any]:
    """Per canteen: the distinct named elders with a subsidised live sale in ``month``."""
    t, in_month = _rollups()
    stmt = (
        sa.select(t.c.canteen_id, sa.func.count(sa.distinct(t.c.elder_key)))
        .where(*in_month, t.c.subsidised > 0, t.c.elder_key != rollups.WALK_IN)
        .group_by(t.c.canteen_id)
    )
    return _month(stmt, month)


def unpaid_query(month: Month, info_flags: Collection[str]) -> sa.Select[Any]:
    """The month's live sales that are not paid, as :func:`ruyi.settlement.settle` decides: rejected, or held
    (undecided, with an unresolved flag that holds). Found from the month's flags and decisions, then the meals
    by id; ``decision`` is ``rejected`` or None (held)."""
    first, nxt = month.first_day, month.next().first_day
    flagged: sa.Select[Any] = sa.select(col(MealFlag.meal_id).label("meal_id")).where(
        col(MealFlag.service_date) >= first,
        col(MealFlag.service_date) < nxt,
        col(MealFlag.resolved_at).is_(None),
        col(MealFlag.code).not_in(sorted(info_flags)),
    )
    rejected: sa.Select[Any] = sa.select(col(SettlementDecision.meal_id).label("meal_id")).where(
        col(SettlementDecision.origin_month) == str(month), col(SettlementDecision.decision) == "rejected"
    )
    ids = sa.union(flagged, rejected).subquery("unpaid_ids")
    decision = sa.orm.aliased(SettlementDecision, name="decision")
    void = sa.orm.aliased(Meal, name="void")
    return (
        sa.select(
            *(getattr(Meal, c) for c in ("canteen_id", "service_date", "terminal_id", "identified_by", "elder_id")),
            *(getattr(Meal, c) for c in ("canonical", "subsidised", "price", "subsidy", "elder_pays")),
            col(decision.decision).label("decision"),
        )
        .select_from(ids)
        .join(Meal, col(Meal.meal_id) == ids.c.meal_id)
        .outerjoin(
            decision,
            sa.and_(col(decision.meal_id) == col(Meal.meal_id), col(decision.origin_month) == str(month)),
        )
        .where(
            col(Meal.kind) == "sale",
            col(Meal.service_date) >= first,
            col(Meal.service_date) < nxt,
            ~sa.exists().where(col(void.kind) == "void", col(void.refers_to) == col(Meal.meal_id)),
            sa.or_(col(decision.decision).is_(None), col(decision.decision) == "rejected"),
        )
    )


def _no_longer_served(
    session: Session,
    *,
    month: Month,
    removed: Mapping[rollups.Key, int],
    days: dict[uuid.UUID, dict[date, list[int]]],
    elders: dict[uuid.UUID, int],
) -> None:
    """Take the elders whose subsidised sales of a day were all taken out off that day's count, and off the
    month's count when that leaves them no served day at the canteen (their rows of the month are read)."""
    if not removed:
        return
    t, in_month = _rollups()
    pairs = {(k[0], k[2]) for k in removed}
    stmt = sa.select(t.c.canteen_id, t.c.elder_key, t.c.service_date, t.c.subsidised).where(
        *in_month,
        t.c.canteen_id.in_(sorted({c for c, _e in pairs})),
        t.c.elder_key.in_(sorted({e for _c, e in pairs})),
        t.c.terminal_id == rollups.NIL,
    )
    served: dict[tuple[uuid.UUID, str], dict[date, int]] = defaultdict(dict)
    for canteen_id, elder, day, subsidised in session.execute(_month(stmt, month)):
        if (canteen_id, elder) in pairs and subsidised > 0:
            served[(canteen_id, elder)][day] = subsidised
    for (canteen_id, elder), by_day in served.items():
        left = [d for d, n in by_day.items() if n > removed.get((canteen_id, d, elder, rollups.NIL), 0)]
        for day in by_day.keys() - set(left):
            days[canteen_id][day][_DAY.index("elders")] -= 1
        if not left:
            elders[canteen_id] -= 1
