"""A canteen's month as :class:`~ruyi.settlement.MealFact` rows, and what only the edit checks read besides.

Stored meals were validated at intake, so rows become facts directly (no record model in between). The loader
also maps the keyed category-tier tokens terminals quote with back to the rule book's tier ids
(:class:`Context`), so a statement reads the same whoever quoted.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange
from ruyi.redact import token
from ruyi.rules import RuleBook
from ruyi.settlement import MealFact, Month, SettlementConfig, ZTotals
from ruyi.settlement.catchment import eligible_per_day
from server import sql
from server.canteens.tables import Canteen
from server.elders.service import statuses_of
from server.elders.tables import Elder
from server.errors import Conflict
from server.meals.tables import Meal, MealFlag
from server.rules.service import load_book
from server.settlements.tables import SettlementDecision
from server.sync.tables import SyncZReport

_IN_CHUNK = 500


@dataclass(frozen=True)
class Context:
    """A canteen's rule book, the edit-check thresholds, and what the loader needs to read tiers."""

    book: RuleBook
    config: SettlementConfig
    tier_of_token: dict[str, str]
    category_tiers: frozenset[str]
    card_secret: bytes = b""
    """Meals carry the tapped card's key digest under this secret: a card revoked later is found by it."""


def context(
    session: Session, canteen: Canteen, *, category_key: str, config: SettlementConfig, card_secret: str = ""
) -> Context:
    book = load_book(session, canteen.programme)
    if book is None:
        raise Conflict(
            f"食堂 {canteen.code} 的补贴规则 {canteen.programme} 尚未上传",
            f"rule book {canteen.programme} of canteen {canteen.code} is not uploaded",
            code="settlement.no_rules",
        )
    key = category_key.encode()
    tokens: dict[str, str] = {}
    cats: set[str] = set()
    for version in book.versions:
        for tier in version.tiers:
            if tier.when.categories_any or tier.when.categories_all:
                cats.add(tier.id)
                tokens[token(key, "t", tier.id)] = tier.id
    return Context(book, config, tokens, frozenset(cats), card_secret.encode())


# The canonical text is parsed once per row, with the C decoder, for the three things only it holds (cashier, the
# named elder, the quote's tiers); PostgreSQL's own JSON functions were measured slower than that here. On
# PostgreSQL the ids come back as text (the driver's UUID objects and ``str`` of them cost more than the rest of
# the row); SQLite stores them as 32 hex digits, so there they are read as UUIDs and formatted here.

_NAMES = (
    "meal_id",
    "canteen_id",
    "terminal_id",
    "seq",
    "kind",
    "refers_to",
    "service_date",
    "service_time",
    "slot",
    "identified_by",
    "price",
    "subsidy",
    "elder_pays",
    "subsidised",
    "operating_subsidy",
    "rule_version",
    "card_key",
    "canonical",
)
"""The meal columns a fact is made of (read by name in :meth:`_FactMaker.fact`)."""
_TEXT_IDS = frozenset({"meal_id", "canteen_id", "terminal_id", "refers_to"})


def _cols(session: Session, table: Any = Meal) -> list[sa.ColumnElement[Any]]:
    """:data:`_NAMES` of ``table`` (Meal or an alias of it), ids read as :func:`server.sql.read_id` reads them."""
    return [
        (sql.read_id(session, getattr(table, name)) if name in _TEXT_IDS else getattr(table, name)).label(name)
        for name in _NAMES
    ]


def _text(value: Any) -> str:
    return value if type(value) is str else str(value)


class _FactMaker:
    """Stored meal rows to facts, with the flags and decisions of their meals (keyed by meal id text)."""

    def __init__(self, tiers_map: dict[str, str], flags: dict[str, list[str]], decisions: dict[str, str]) -> None:
        self.tiers_map = tiers_map
        self.flags = flags
        self.decisions = decisions
        self._ids: dict[Any, str] = {}
        self._tiers: dict[tuple[str, ...], tuple[str, ...]] = {}

    def text(self, value: Any) -> str:
        """An id as text: as read (PostgreSQL) or formatted once per distinct canteen/terminal (SQLite)."""
        if type(value) is str:
            return value
        found = self._ids.get(value)
        if found is None:
            found = self._ids[value] = str(value)
        return found

    def tiers(self, raw: Any) -> tuple[str, ...]:
        key = tuple(raw)
        found = self._tiers.get(key)
        if found is None:
            found = self._tiers[key] = tuple(self.tiers_map.get(t, t) for t in key)
        return found

    def fact(self, row: Any) -> MealFact:
        """One row of :func:`_cols` (read by column name) as a fact."""
        data = json.loads(row.canonical)
        quote = data.get("quote") or {}
        elder = data.get("elder_id")
        mid = _text(row.meal_id)
        flags = self.flags.get(mid)
        decision = self.decisions.get(mid)
        return MealFact(
            mid,
            self.text(row.canteen_id),
            self.text(row.terminal_id),
            row.seq,
            row.kind,
            None if row.refers_to is None else _text(row.refers_to),
            row.service_date,
            row.service_time,
            row.slot,
            None if elder is None else str(elder),
            row.identified_by,
            str(data.get("cashier", "")),
            row.price,
            row.subsidy,
            row.elder_pays,
            row.subsidised,
            row.operating_subsidy,
            row.rule_version,
            self.tiers(quote.get("tiers", ())),
            () if not flags else tuple(sorted(set(flags))),
            "accepted" if decision == "accepted" else "rejected" if decision == "rejected" else None,
            row.card_key,
        )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


def _range(month: Month) -> tuple[date, date]:
    return month.first_day, month.next().first_day


def month_facts(
    session: Session, *, month: Month, tiers_map: dict[str, str], canteen_id: uuid.UUID | None
) -> dict[str, list[MealFact]]:
    """Per canteen id: the sales served in ``month`` with every record referring to them, their unresolved
    flags and decisions. ``canteen_id`` None: every canteen (the whole programme's month).

    Set-based, whatever the number of canteens: the month's sales are read once (a materialised CTE on the
    service-date index) and the records referring to them are joined to it through ``ix_meals_refers_to``
    (few rows: voids and reprints), in one statement; flags of the month by their copied service date, flags of
    the referring records by their ids (few), decisions by origin month."""
    first, nxt = _range(month)
    conn = session.connection()
    where: list[sa.ColumnElement[bool]] = [
        col(Meal.service_date) >= first,
        col(Meal.service_date) < nxt,
        col(Meal.kind) == "sale",
    ]
    fwhere: list[sa.ColumnElement[bool]] = [
        col(MealFlag.service_date) >= first,
        col(MealFlag.service_date) < nxt,
        col(MealFlag.resolved_at).is_(None),
    ]
    dwhere: list[sa.ColumnElement[bool]] = [col(SettlementDecision.origin_month) == str(month)]
    if canteen_id is not None:
        where.append(col(Meal.canteen_id) == canteen_id)
        fwhere.append(col(MealFlag.canteen_id) == canteen_id)
        dwhere.append(col(SettlementDecision.canteen_id) == canteen_id)
    sales = sa.select(col(Meal.meal_id).label("sale_key"), *_cols(session)).where(*where).cte("month_sales")
    ref = sa.orm.aliased(Meal, name="ref")
    refs = sa.select(*_cols(session, ref)).join_from(ref, sales, sales.c.sale_key == ref.refers_to)
    both = sa.select(*(sales.c[n] for n in _NAMES)).union_all(refs)
    rows = conn.execute(both).all()
    flags: dict[str, list[str]] = defaultdict(list)
    for meal_id, code in conn.execute(sa.select(col(MealFlag.meal_id), col(MealFlag.code)).where(*fwhere)):
        flags[str(meal_id)].append(code)
    ref_ids = [r.meal_id for r in rows if r.refers_to is not None]
    for chunk in _chunks(ref_ids):
        stmt = sa.select(col(MealFlag.meal_id), col(MealFlag.code)).where(
            col(MealFlag.meal_id).in_([uuid.UUID(str(m)) for m in chunk]), col(MealFlag.resolved_at).is_(None)
        )
        for meal_id, code in conn.execute(stmt):
            flags[str(meal_id)].append(code)
    found = sa.select(col(SettlementDecision.meal_id), col(SettlementDecision.decision)).where(*dwhere)
    decisions: dict[str, str] = {str(mid): d for mid, d in conn.execute(found)}
    maker = _FactMaker(tiers_map, flags, decisions)
    out: dict[str, list[MealFact]] = defaultdict(list)
    canteen_of: dict[str, str] = {}
    for r in rows:  # sales first, then what refers to them (union order)
        f = maker.fact(r)
        if f.kind == "sale":
            canteen_of[f.meal_id] = owner = f.canteen_id
        else:  # with the sale it refers to, even when another canteen's terminal sent it (flagged at intake)
            owner = canteen_of.get(f.refers_to or "", f.canteen_id)
        out[owner].append(f)
    return out


def other_canteens(
    session: Session, *, canteen_id: uuid.UUID, month: Month, facts: Sequence[MealFact], tiers_map: dict[str, str]
) -> list[MealFact]:
    """The same elders' sales at other canteens from the day before the month to the day after, with voids."""
    elders = sorted({uuid.UUID(f.elder_id) for f in facts if f.elder_id is not None and _is_uuid(f.elder_id)})
    first, nxt = _range(month)
    rows: list[Any] = []
    for chunk in _chunks(elders):
        stmt = sa.select(*_cols(session)).where(
            col(Meal.elder_id).in_(chunk),
            col(Meal.service_date) >= first - timedelta(days=1),
            col(Meal.service_date) <= nxt,
            col(Meal.canteen_id) != canteen_id,
            col(Meal.kind) == "sale",
        )
        rows.extend(session.execute(stmt))
    ids = [uuid.UUID(str(r.meal_id)) for r in rows]
    for chunk in _chunks(ids):
        rows.extend(session.execute(sa.select(*_cols(session)).where(col(Meal.refers_to).in_(chunk))))
    decisions: dict[str, str] = {}
    all_ids = [uuid.UUID(str(r.meal_id)) for r in rows]
    for chunk in _chunks(all_ids):
        found = sa.select(col(SettlementDecision.meal_id), col(SettlementDecision.decision)).where(
            col(SettlementDecision.meal_id).in_(chunk)
        )
        decisions.update({str(mid): d for mid, d in session.execute(found)})
    maker = _FactMaker(tiers_map, {}, decisions)
    return [maker.fact(r) for r in rows]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def served_elders(facts: Sequence[MealFact]) -> list[uuid.UUID]:
    """The elders the month's facts show served a subsidised meal (a sale not voided, not rejected)."""
    voided = {f.refers_to for f in facts if f.kind == "void"}
    return sorted(
        {
            uuid.UUID(f.elder_id)
            for f in facts
            if f.kind == "sale"
            and f.subsidised
            and f.elder_id is not None
            and f.meal_id not in voided
            and f.decision != "rejected"
            and _is_uuid(f.elder_id)
        }
    )


def enrolment(
    session: Session, *, canteen_id: uuid.UUID, month: Month, book: RuleBook, served: Sequence[uuid.UUID] = ()
) -> dict[date, int]:
    """The canteen's catchment per day of the month, which the attendance check measures subsidised meals against:
    the elders whose home canteen it is, and the ``served`` elders who came from elsewhere or have no home canteen
    (the subsidy follows the person), each counted on the days they are enrolled and eligible (status, age, area)
    under the version then in force. Days without a version in force have no figure. Two queries plus one per
    500 visitors; statuses by the same chunks. Counted from each elder's eligible spans
    (:func:`~ruyi.settlement.catchment.eligible_per_day`), not elder by elder for every day."""
    cols = (col(Elder.id), col(Elder.birth_date), col(Elder.area))
    elders = list(session.execute(sa.select(*cols).where(col(Elder.canteen_id) == canteen_id)))
    home = {e.id for e in elders}
    for chunk in _chunks([e for e in served if e not in home]):
        elders.extend(session.execute(sa.select(*cols).where(col(Elder.id).in_(chunk))))
    statuses: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for chunk in _chunks([e.id for e in elders]):
        for k, v in statuses_of(session, list(chunk)).items():
            statuses[k].extend(v)
    profiles = [
        ElderProfile(
            elder_id=str(e.id),
            birth_date=e.birth_date,
            area=e.area,
            statuses=tuple(
                StatusChange(status=EnrolmentStatus(s.status), effective_from=s.effective_from)
                for s in statuses.get(e.id, [])
            ),
        )
        for e in elders
    ]
    return eligible_per_day(profiles, book, month.first_day, month.next().first_day)


def z_totals(session: Session, *, canteen_id: uuid.UUID, month: Month) -> list[ZTotals]:
    """The latest Z-report of each terminal-day of the canteen's month (a later ``made_at`` supersedes; all are
    kept). The report's figures are the ledger's, net of voids, as :class:`ZTotals` reads them."""
    first, nxt = _range(month)
    rows = session.exec(
        select(SyncZReport)
        .where(
            col(SyncZReport.canteen_id) == canteen_id,
            col(SyncZReport.day) >= first,
            col(SyncZReport.day) < nxt,
        )
        .order_by(col(SyncZReport.made_at), col(SyncZReport.id))
    ).all()
    latest: dict[tuple[uuid.UUID, date], SyncZReport] = {}
    for r in rows:
        latest[(r.terminal_id, r.day)] = r
    return [
        ZTotals(
            terminal_id=str(r.terminal_id),
            day=r.day,
            meals=r.meals,
            voids=r.voids,
            price_total=r.price_total,
            subsidy_total=r.subsidy_total,
            elder_pays_total=r.elder_pays_total,
        )
        for _key, r in sorted(latest.items())
    ]


def baseline(session: Session, *, canteen_id: uuid.UUID, month: Month, days: int) -> dict[date, int]:
    """Sales not voided per day over the ``days`` before the month (the spike check's rolling baseline)."""
    void = sa.orm.aliased(Meal)
    voided = sa.exists().where(col(void.refers_to) == col(Meal.meal_id), col(void.kind) == "void")
    stmt = (
        sa.select(col(Meal.service_date), sa.func.count())
        .where(
            col(Meal.canteen_id) == canteen_id,
            col(Meal.service_date) >= month.first_day - timedelta(days=days),
            col(Meal.service_date) < month.first_day,
            col(Meal.kind) == "sale",
            ~voided,
        )
        .group_by(col(Meal.service_date))
    )
    return {d: int(n) for d, n in session.execute(stmt)}


@dataclass(frozen=True)
class CheckInputs:
    """What only the edit checks read besides the month's facts (empty: no checks)."""

    enrolled: dict[date, int] | None = None
    other_canteens: tuple[MealFact, ...] = ()
    baseline: dict[date, int] | None = None
    z_reports: tuple[ZTotals, ...] = ()


def check_inputs(
    session: Session, *, canteen_id: uuid.UUID, month: Month, ctx: Context, facts: Sequence[MealFact]
) -> CheckInputs:
    """The catchment, the same elders elsewhere, the baseline and the Z-reports of the canteen's month."""
    return CheckInputs(
        enrolled=enrolment(session, canteen_id=canteen_id, month=month, book=ctx.book, served=served_elders(facts)),
        other_canteens=tuple(
            other_canteens(session, canteen_id=canteen_id, month=month, facts=facts, tiers_map=ctx.tier_of_token)
        ),
        baseline=baseline(session, canteen_id=canteen_id, month=month, days=ctx.config.baseline_days),
        z_reports=tuple(z_totals(session, canteen_id=canteen_id, month=month)),
    )
