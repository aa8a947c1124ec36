"""Monthly settlement on the server: load one canteen's month from the stored meals, call
:func:`ruyi.settlement.settle` (all arithmetic lives there), and keep the lifecycle draft -> reviewed -> closed.

- **Loading** a month reads the canteen's sales with ``service_date`` in the month (``ix_meals_canteen_day``), the
  records referring to them whenever they were made (voids, through ``ix_meals_refers_to``), their unresolved
  intake flags, the reviewers' decisions, the bureau's lines; for the edit checks also the same elders' meals at
  other canteens (``ix_meals_elder_day``), the catchment's enrolment per day (elders whose home canteen this is,
  enrolled and eligible under the version in force that day), and the daily meal counts of the weeks before.
  For the terminal reconciliation, the latest Z-report (by ``made_at``) each terminal sent for each day of the
  month (``z_reports``, ``ix_z_reports_canteen_day``) as :class:`~ruyi.settlement.ZTotals`: a mismatch with
  the stored meals is ``terminal_mismatch``, a terminal-day with meals and no report ``zreport_missing``.
- **Category tiers**: terminals quote with a rule book whose category tiers are keyed tokens
  (:mod:`ruyi.redact`); the loader maps them back to the rule book's tier ids, so the statement reads the same
  whoever quoted. Callers without ``categories.read`` get a view where category tiers are one merged
  ``category`` tier.
- **Late facts**: closed months of the canteen whose :func:`~ruyi.settlement.target_month` is this month and
  that saw something after the last close (a meal, void or reprint received, as ``meal_activity`` notes at
  intake; a decision taken) or still hold undecided flagged meals (:func:`late_months`) are passed as
  :class:`~ruyi.settlement.PriorMonth`, with :func:`~ruyi.settlement.settled_of` over the stored closed
  statements: the difference becomes adjustment lines pointing back.
- **Closed** statements are read from their stored bytes only, and every read checks them again
  (:func:`verify_stored`): a mismatch raises :class:`IntegrityAlert` (500, logged), it is never served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange, assess
from ruyi.errors import Problem
from ruyi.flags import flag_text
from ruyi.redact import token
from ruyi.rules import RuleBook
from ruyi.settlement import (
    CheckResult,
    ConstructionLine,
    CorrectionLine,
    Line,
    MealFact,
    Month,
    PriorMonth,
    Settlement,
    SettlementConfig,
    Statement,
    ZTotals,
    can_close,
    settle,
    settled_of,
    statement_bytes,
    statement_hash,
    target_month,
    verify_statement,
)
from server.audit import service as audit
from server.auth.principal import Perm, Principal, Role
from server.base import local_today, utcnow
from server.canteens.service import get_canteen
from server.canteens.tables import Canteen
from server.elders.service import statuses_of
from server.elders.tables import Elder
from server.errors import Conflict, Forbidden, Invalid, NotFound, ServerError, problem_dict
from server.meals.tables import Meal, MealActivity, MealFlag
from server.rules.service import load_book
from server.settlements.codec import statement_from_bytes
from server.settlements.tables import (
    ClosedMonth,
    SettlementDecision,
    SettlementLine,
    SettlementNote,
    SettlementStatement,
)
from server.sql import in_values as among
from server.sync.tables import SyncZReport

log = logging.getLogger("ruyi.settlement")

BUREAU = frozenset({Role.BUREAU_ADMIN, Role.BUREAU_OPERATOR, Role.BUREAU_AUDITOR})
READERS = BUREAU | {Role.CANTEEN_MANAGER}
PREPARERS = frozenset({Role.BUREAU_ADMIN, Role.BUREAU_OPERATOR})
"""Create statements, enter lines, decide flagged meals."""
REVIEWERS = frozenset({Role.BUREAU_ADMIN, Role.BUREAU_AUDITOR})
"""Review and close."""
NOTERS = BUREAU
"""Write notes on warnings."""

DEFAULT_CONFIG = SettlementConfig(upward_window_months=3)
LATE_MARGIN = timedelta(minutes=10)
"""A closed month is re-examined for records received up to this long before the last close (a transaction
that committed while the close was running), besides everything after it: looking again changes nothing when
nothing is new."""
CATEGORY_TIER = "category"
MAX_SUMMARY_MONTHS = 24
_IN_CHUNK = 500

State = Literal["draft", "reviewed", "closed"]


class IntegrityAlert(ServerError):
    """A closed statement whose stored bytes no longer match its hash: never served."""

    status, code = 500, "settlement.integrity"


class ChangedSinceReview(Conflict):
    """Closing found content other than what was reviewed (or last checked): the statement went back to draft,
    and that step is kept (the caller commits before answering)."""

    def __init__(self) -> None:
        super().__init__(
            "结算单在复核后有变化（新到餐次或标记），已退回草稿：请查看后重新复核",
            "the statement changed after it was reviewed (new meals or flags): back to draft, review it again",
            code="settlement.changed_since_review",
        )


# ---------------------------------------------------------------------------------------------------------------
# Access


def require(actor: Principal, roles: frozenset[Role], zh: str, en: str) -> None:
    if actor.kind != "staff" or not actor.roles & roles:
        raise Forbidden(zh, en)


def parse_month(text: str, path: str = "month") -> Month:
    """``YYYY-MM`` between 1900 and 2999 (anything else is not a settlement month)."""
    try:
        month = Month.parse(text)
    except ValueError:
        month = None
    if month is None or not 1900 <= month.year <= 2999:
        raise Invalid.field(
            path, "month.format", "月份格式应为 YYYY-MM（1900–2999年）", "month must be YYYY-MM (1900-2999)"
        )
    return month


def get_row(
    session: Session, *, actor: Principal, statement_id: uuid.UUID, for_update: bool = False
) -> SettlementStatement:
    require(actor, READERS, "无权查看结算单", "not allowed to read statements")
    stmt = select(SettlementStatement).where(col(SettlementStatement.id) == statement_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    if row is None or not actor.reaches(row.canteen_id):
        raise NotFound("结算单", "statement")
    return row


def _open(row: SettlementStatement) -> None:
    if row.state == "closed":
        raise Conflict(
            f"{row.month} 结算单已关账，不能再更改（迟到的记录以调整项进入下一个未关账月份）",
            f"the {row.month} statement is closed and never changes (late records become adjustments of the next "
            "open month)",
            code="settlement.closed",
        )


def _touch(row: SettlementStatement, session: Session) -> None:
    """Something a reviewer signed off changed: a reviewed statement goes back to draft."""
    row.updated_at = utcnow()
    if row.state == "reviewed":
        row.state = "draft"
        row.reviewed_by = None
        row.reviewed_at = None
    session.add(row)


# ---------------------------------------------------------------------------------------------------------------
# Context: the canteen's rule book and what the loader needs to read tiers


@dataclass(frozen=True)
class Context:
    book: RuleBook
    config: SettlementConfig
    tier_of_token: dict[str, str]
    category_tiers: frozenset[str]


def context(session: Session, canteen: Canteen, *, category_key: str, config: SettlementConfig) -> Context:
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
    return Context(book, config, tokens, frozenset(cats))


# ---------------------------------------------------------------------------------------------------------------
# Loading facts
#
# Rows are stored meals, validated at intake: they become facts directly (no record model in between). The
# canonical text is parsed once per row, with the C decoder, for the three things only it holds (cashier, the
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
    "canonical",
)
"""The columns a fact is made of, in :meth:`_FactMaker.fact`'s order."""
_TEXT_IDS = frozenset({"meal_id", "canteen_id", "terminal_id", "refers_to"})


def _cols(session: Session, table: Any = Meal) -> list[sa.ColumnElement[Any]]:
    """:data:`_NAMES` of ``table`` (Meal or an alias of it), ids as text on PostgreSQL."""
    text_ids = session.get_bind().dialect.name == "postgresql"
    out: list[sa.ColumnElement[Any]] = []
    for name in _NAMES:
        column: sa.ColumnElement[Any] = getattr(table, name)
        out.append((sa.cast(column, sa.Text) if text_ids and name in _TEXT_IDS else column).label(name))
    return out


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

    def fact(self, row: Sequence[Any]) -> MealFact:
        (meal_id, canteen_id, terminal_id, seq, kind, refers_to, service_date, service_time, slot, identified_by,
         price, subsidy, elder_pays, subsidised, operating_subsidy, rule_version, canonical) = row  # fmt: skip
        data = json.loads(canonical)
        quote = data.get("quote") or {}
        elder = data.get("elder_id")
        mid = meal_id if type(meal_id) is str else str(meal_id)
        flags = self.flags.get(mid)
        decision = self.decisions.get(mid)
        return MealFact(
            mid,
            self.text(canteen_id),
            self.text(terminal_id),
            seq,
            kind,
            None if refers_to is None else refers_to if type(refers_to) is str else str(refers_to),
            service_date,
            service_time,
            slot,
            None if elder is None else str(elder),
            identified_by,
            str(data.get("cashier", "")),
            price,
            subsidy,
            elder_pays,
            subsidised,
            operating_subsidy,
            rule_version,
            self.tiers(quote.get("tiers", ())),
            () if not flags else tuple(sorted(set(flags))),
            "accepted" if decision == "accepted" else "rejected" if decision == "rejected" else None,
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
    ref_ids = [r[0] for r in rows if r[5] is not None]
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


def _other_canteens(
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


def enrolment(session: Session, *, canteen_id: uuid.UUID, month: Month, book: RuleBook) -> dict[date, int]:
    """Elders whose home canteen is this one, enrolled and eligible (status, age, area) on each day of the month
    under the version then in force. Days without a version in force have no figure."""
    elders = list(
        session.execute(
            sa.select(col(Elder.id), col(Elder.birth_date), col(Elder.area)).where(col(Elder.canteen_id) == canteen_id)
        )
    )
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
    out: dict[date, int] = {}
    day = month.first_day
    while day < month.next().first_day:
        version = book.version_on(day)
        if version is not None:
            out[day] = sum(assess(p, day, version).eligible for p in profiles)
        day += timedelta(days=1)
    return out


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


# ---------------------------------------------------------------------------------------------------------------
# Closed months


def verify_stored(row: SettlementStatement) -> Statement:
    """The closed statement from its stored bytes, checked: decoding and encoding again gives the same bytes,
    which hash to the hash stored at close. Anything else is an alert, never a statement."""
    assert row.state == "closed"
    body = (row.body or "").encode()
    try:
        statement = statement_from_bytes(body)
        ok = (
            statement_bytes(statement) == body
            and hashlib.sha256(body).hexdigest() == row.content_hash
            and verify_statement(statement, row.content_hash or "")
        )
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        log.error(
            "settlement integrity alert: closed statement %s (canteen %s, %s) does not match its hash %s",
            row.id,
            row.canteen_id,
            row.month,
            row.content_hash,
        )
        raise IntegrityAlert(
            f"已关账结算单 {row.month} 的内容与关账时的哈希不符，已报警，拒绝提供",
            f"the closed {row.month} statement no longer matches the hash stored at close: alerted, not served",
            statement_id=str(row.id),
        )
    return statement


def closed_months(session: Session, canteen_id: uuid.UUID) -> dict[Month, ClosedMonth]:
    rows = session.exec(select(ClosedMonth).where(col(ClosedMonth.canteen_id) == canteen_id))
    return {Month.parse(r.month): r for r in rows}


def late_months(
    session: Session,
    *,
    month: Month,
    closed: Mapping[uuid.UUID, Mapping[Month, datetime]],
    info_flags: frozenset[str],
) -> dict[uuid.UUID, list[Month]]:
    """Per canteen (``closed``: its closed months with their close times), its closed months whose late facts
    are settled in ``month`` (:func:`~ruyi.settlement.target_month`) and that saw something after the canteen's
    last close (less :data:`LATE_MARGIN`): a sale of theirs, or a void or reprint of one, received (as
    ``meal_activity`` notes at intake), a decision taken, or flagged meals still undecided. Canteens with none
    are left out. For any number of canteens, three small queries."""
    candidates: dict[uuid.UUID, list[Month]] = {}
    since: dict[uuid.UUID, datetime] = {}
    for canteen_id, months in closed.items():
        found = sorted(p for p in months if p < month and target_month(p, set(months)) == month)
        if found:
            candidates[canteen_id] = found
            since[canteen_id] = max(months.values()) - LATE_MARGIN
    if not candidates:
        return {}
    origins = sorted({p for found in candidates.values() for p in found})
    active: set[tuple[uuid.UUID, Month]] = set()
    received = (
        sa.select(col(MealActivity.canteen_id), col(MealActivity.month), sa.func.max(col(MealActivity.received_at)))
        .where(
            among(session, col(MealActivity.canteen_id), candidates),
            col(MealActivity.month).in_([p.first_day for p in origins]),
        )
        .group_by(col(MealActivity.canteen_id), col(MealActivity.month))
    )
    decided = (
        sa.select(
            col(SettlementDecision.canteen_id),
            col(SettlementDecision.origin_month),
            sa.func.max(col(SettlementDecision.decided_at)),
        )
        .where(
            among(session, col(SettlementDecision.canteen_id), candidates),
            col(SettlementDecision.origin_month).in_([str(p) for p in origins]),
        )
        .group_by(col(SettlementDecision.canteen_id), col(SettlementDecision.origin_month))
    )
    for canteen_id, first_day, at in session.execute(received):
        if at > since[canteen_id]:
            active.add((canteen_id, Month.of(first_day)))
    for canteen_id, origin, at in session.execute(decided):
        if at > since[canteen_id]:
            active.add((canteen_id, Month.parse(origin)))
    has_decision = sa.exists().where(col(SettlementDecision.meal_id) == col(MealFlag.meal_id))
    pending = (
        sa.select(col(MealFlag.canteen_id), col(MealFlag.service_date))
        .where(
            among(session, col(MealFlag.canteen_id), candidates),
            col(MealFlag.service_date) >= origins[0].first_day,
            col(MealFlag.service_date) < origins[-1].next().first_day,
            col(MealFlag.resolved_at).is_(None),
            col(MealFlag.code).not_in(sorted(info_flags)),
            ~has_decision,
        )
        .distinct()
    )
    for canteen_id, day in session.execute(pending):
        active.add((canteen_id, Month.of(day)))
    out = {c: [p for p in found if (c, p) in active] for c, found in candidates.items()}
    return {c: found for c, found in out.items() if found}


def closed_statements(session: Session, canteen_id: uuid.UUID) -> list[Statement]:
    rows = session.exec(
        select(SettlementStatement).where(
            col(SettlementStatement.canteen_id) == canteen_id, col(SettlementStatement.state) == "closed"
        )
    )
    return [verify_stored(r) for r in rows]


def priors(session: Session, *, ctx: Context, canteen_id: uuid.UUID, month: Month) -> list[PriorMonth]:
    """The earlier closed months to re-examine in ``month`` (:func:`late_months`), with their facts as known
    now and what was settled for them."""
    closed = {m: r.closed_at for m, r in closed_months(session, canteen_id).items()}
    found = late_months(session, month=month, closed={canteen_id: closed}, info_flags=ctx.config.info_flags)
    return prior_months(session, ctx=ctx, canteen_id=canteen_id, months=found.get(canteen_id, []))


def prior_months(session: Session, *, ctx: Context, canteen_id: uuid.UUID, months: Sequence[Month]) -> list[PriorMonth]:
    if not months:
        return []
    statements = closed_statements(session, canteen_id)
    out = []
    for p in months:
        facts = month_facts(session, month=p, tiers_map=ctx.tier_of_token, canteen_id=canteen_id)
        out.append(PriorMonth(tuple(facts.get(str(canteen_id), [])), settled_of(p, statements)))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Computing an open statement


@dataclass(frozen=True)
class Computed:
    settlement: Settlement
    facts: tuple[MealFact, ...]
    notes: dict[str, str]


def _bureau_lines(session: Session, statement_id: uuid.UUID) -> list[SettlementLine]:
    return list(
        session.exec(
            select(SettlementLine)
            .where(col(SettlementLine.statement_id) == statement_id)
            .order_by(col(SettlementLine.line_no))
        )
    )


def notes_of(session: Session, statement_id: uuid.UUID) -> dict[str, str]:
    rows = session.exec(select(SettlementNote).where(col(SettlementNote.statement_id) == statement_id))
    return {r.check_key: r.note for r in rows}


def compute(
    session: Session,
    *,
    row: SettlementStatement,
    ctx: Context,
    with_checks: bool = True,
    facts: Sequence[MealFact] | None = None,
) -> Computed:
    month = Month.parse(row.month)
    if facts is None:
        loaded = month_facts(session, month=month, tiers_map=ctx.tier_of_token, canteen_id=row.canteen_id)
        facts = loaded.get(str(row.canteen_id), [])
    settlement = settle_statement(
        session,
        row=row,
        ctx=ctx,
        month=month,
        facts=facts,
        lines=_bureau_lines(session, row.id),
        prior=priors(session, ctx=ctx, canteen_id=row.canteen_id, month=month),
        with_checks=with_checks,
    )
    return Computed(settlement, tuple(facts), notes_of(session, row.id))


def settle_statement(
    session: Session,
    *,
    row: SettlementStatement,
    ctx: Context,
    month: Month,
    facts: Sequence[MealFact],
    lines: Sequence[SettlementLine],
    prior: Sequence[PriorMonth],
    with_checks: bool,
) -> Settlement:
    """The statement of ``row`` from its facts, bureau lines and prior months; the edit checks (and what only
    they need: enrolment, the same elders elsewhere, the baseline) only ``with_checks``."""
    construction = [ConstructionLine(x.line_id, x.amount, x.note) for x in lines if x.kind == "construction"]
    corrections = [
        CorrectionLine(x.line_id, Month.parse(x.origin_month or ""), x.amount, x.note)
        for x in lines
        if x.kind == "correction"
    ]
    extra: dict[str, Any] = {}
    if with_checks:
        extra = {
            "enrolled": enrolment(session, canteen_id=row.canteen_id, month=month, book=ctx.book),
            "other_canteens": _other_canteens(
                session, canteen_id=row.canteen_id, month=month, facts=facts, tiers_map=ctx.tier_of_token
            ),
            "baseline": baseline(session, canteen_id=row.canteen_id, month=month, days=ctx.config.baseline_days),
            "z_reports": z_totals(session, canteen_id=row.canteen_id, month=month),
        }
    return settle(
        canteen_id=str(row.canteen_id),
        month=month,
        facts=facts,
        rules=ctx.book,
        config=ctx.config,
        construction=construction,
        corrections=corrections,
        prior=prior,
        checks=with_checks,
        **extra,
    )


# ---------------------------------------------------------------------------------------------------------------
# What a caller sees


def mask(statement: Statement, category_tiers: frozenset[str]) -> Statement:
    """The statement for a caller who may not see categories: every tier combination naming a category tier
    becomes ``category`` and lines that then coincide (same day, slot) are merged. Distinct elders of merged
    lines are added (one elder has one tier per meal)."""

    def tier(text: str) -> str:
        return CATEGORY_TIER if category_tiers.intersection(text.split("+")) else text

    merged: dict[tuple[date, str, str], list[Line]] = defaultdict(list)
    order: list[tuple[date, str, str]] = []
    for line in statement.lines:
        key: tuple[date, str, str] = (line.day, line.slot, tier(line.tier))
        if key not in merged:
            order.append(key)
        merged[key].append(line)
    lines = []
    for merged_key in order:
        group = merged[merged_key]
        lines.append(
            Line(
                day=merged_key[0],
                slot=group[0].slot,
                tier=merged_key[2],
                meals=sum(x.meals for x in group),
                elders=sum(x.elders for x in group),
                price=sum(x.price for x in group),
                elder_subsidy=sum(x.elder_subsidy for x in group),
                elder_pays=sum(x.elder_pays for x in group),
                meal_ids=tuple(sorted(m for x in group for m in x.meal_ids)),
            )
        )
    return dataclasses.replace(statement, lines=tuple(lines))


def sees_categories(actor: Principal) -> bool:
    return actor.can(Perm.CATEGORIES_READ)


@dataclass(frozen=True)
class View:
    row: SettlementStatement
    canteen: Canteen
    statement: Statement
    """As the caller may see it (masked for callers without categories.read)."""
    hash: str
    """The stored hash (closed) or the hash of the statement as computed now."""
    checks: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    lines: list[SettlementLine]
    decisions: list[SettlementDecision]
    can_close: bool
    problems: list[dict[str, str]]


def _check_dicts(checks: Sequence[CheckResult], notes: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "key": c.key,
            "severity": c.severity,
            "zh": c.zh,
            "en": c.en,
            "note": notes.get(c.key),
            "meal_ids": list(c.evidence.meal_ids),
            "days": [d.isoformat() for d in c.evidence.days],
            "subject": c.evidence.subject,
            "figures": {k: v for k, v in c.evidence.figures},
        }
        for c in checks
    ]


def _flagged(statement: Statement, facts: Sequence[MealFact]) -> list[dict[str, Any]]:
    held = {h.meal_id: h for h in statement.held}
    paid = {m for line in statement.lines for m in line.meal_ids}
    voided = {sale for sale, _ in statement.voided}
    out: dict[str, dict[str, Any]] = {}
    for f in facts:
        if not f.flags or f.kind != "sale":
            continue
        status = (
            held[f.meal_id].status
            if f.meal_id in held
            else "paid"
            if f.meal_id in paid
            else "voided"
            if f.meal_id in voided
            else "other"
        )
        out[f.meal_id] = {
            "meal_id": f.meal_id,
            "origin_month": str(Month.of(f.service_date)),
            "service_date": f.service_date.isoformat(),
            "slot": f.slot,
            "elder_id": f.elder_id,
            "subsidy": f.subsidy,
            "status": status,
            "decision": f.decision,
            "flags": [{"code": c, "zh": flag_text(c, "zh"), "en": flag_text(c, "en")} for c in f.flags],
        }
    for h in statement.held:
        if h.meal_id not in out:
            out[h.meal_id] = {
                "meal_id": h.meal_id,
                "origin_month": str(h.origin),
                "service_date": h.service_date.isoformat(),
                "slot": h.slot,
                "elder_id": h.elder_id,
                "subsidy": h.subsidy,
                "status": h.status,
                "decision": "rejected" if h.status == "rejected" else None,
                "flags": [{"code": c, "zh": flag_text(c, "zh"), "en": flag_text(c, "en")} for c in h.flags],
            }
    return sorted(out.values(), key=lambda d: (d["origin_month"], d["meal_id"]))


def _decisions(session: Session, statement_id: uuid.UUID) -> list[SettlementDecision]:
    return list(
        session.exec(
            select(SettlementDecision)
            .where(col(SettlementDecision.statement_id) == statement_id)
            .order_by(col(SettlementDecision.decided_at), col(SettlementDecision.meal_id))
        )
    )


def view(session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context) -> View:
    canteen = session.get(Canteen, row.canteen_id)
    assert canteen is not None
    if row.state == "closed":
        statement = verify_stored(row)
        stored_checks = list(row.checks or [])
        checks = [c for c in stored_checks if isinstance(c, dict)]
        digest = row.content_hash or ""
        flagged = _flagged(statement, ())
        allowed, problems = True, []
    else:
        computed = compute(session, row=row, ctx=ctx)
        statement = computed.settlement.statement
        checks = _check_dicts(computed.settlement.checks, computed.notes)
        digest = statement_hash(statement)
        flagged = _flagged(statement, computed.facts)
        verdict = can_close(computed.settlement.checks, computed.notes)
        allowed, problems = verdict.allowed, [problem_dict(p) for p in verdict.problems]
    if not sees_categories(actor):
        statement = mask(statement, ctx.category_tiers)
    return View(
        row=row,
        canteen=canteen,
        statement=statement,
        hash=digest,
        checks=checks,
        flagged=flagged,
        lines=_bureau_lines(session, row.id),
        decisions=_decisions(session, row.id),
        can_close=allowed,
        problems=problems,
    )


def export_statement(session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context) -> Statement:
    """The statement an export is made from: stored (closed) or computed now, masked for callers without
    categories.read."""
    if row.state == "closed":
        statement = verify_stored(row)
    else:
        statement = compute(session, row=row, ctx=ctx, with_checks=False).settlement.statement
    return statement if sees_categories(actor) else mask(statement, ctx.category_tiers)


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle


def _snapshot(row: SettlementStatement) -> dict[str, Any]:
    return {"canteen_id": str(row.canteen_id), "month": row.month, "state": row.state, "hash": row.content_hash}


def list_statements(
    session: Session,
    *,
    actor: Principal,
    month: str | None,
    canteen_id: uuid.UUID | None,
    state: State | None,
) -> list[SettlementStatement]:
    require(actor, READERS, "无权查看结算单", "not allowed to read statements")
    stmt = select(SettlementStatement)
    if canteen_id is not None:
        get_canteen(session, actor=actor, canteen_id=canteen_id)  # 404 for another canteen
        stmt = stmt.where(col(SettlementStatement.canteen_id) == canteen_id)
    if actor.canteen_id is not None:
        stmt = stmt.where(col(SettlementStatement.canteen_id) == actor.canteen_id)
    if month is not None:
        stmt = stmt.where(col(SettlementStatement.month) == str(parse_month(month)))
    if state is not None:
        stmt = stmt.where(col(SettlementStatement.state) == state)
    return list(session.exec(stmt.order_by(col(SettlementStatement.month), col(SettlementStatement.canteen_id))))


def create(session: Session, *, actor: Principal, canteen_id: uuid.UUID, month: str) -> SettlementStatement:
    require(actor, BUREAU, "无权创建结算单", "not allowed to create statements")
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    m = parse_month(month)
    exists = session.exec(
        select(SettlementStatement).where(
            col(SettlementStatement.canteen_id) == canteen.id, col(SettlementStatement.month) == str(m)
        )
    ).first()
    if exists is not None:
        raise Conflict(
            f"食堂 {canteen.code} 的 {m} 结算单已存在",
            f"canteen {canteen.code} already has a {m} statement",
            code="settlement.exists",
            statement_id=str(exists.id),
        )
    row = SettlementStatement(canteen_id=canteen.id, month=str(m), created_by=actor.name)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="settlement.create",
        object_type="settlement",
        object_id=row.id,
        after=_snapshot(row),
        canteen_id=canteen.id,
    )
    return row


def run_checks(session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context) -> None:
    require(actor, BUREAU, "无权运行核查", "not allowed to run checks")
    _open(row)
    computed = compute(session, row=row, ctx=ctx)
    before = row.computed_hash
    row.computed_hash = statement_hash(computed.settlement.statement)
    row.checked_at = utcnow()
    session.add(row)
    counts: dict[str, int] = defaultdict(int)
    for c in computed.settlement.checks:
        counts[c.severity] += 1
    audit.record(
        session,
        actor=actor,
        action="settlement.check",
        object_type="settlement",
        object_id=row.id,
        before={"hash": before},
        after={"hash": row.computed_hash, "errors": counts["error"], "warnings": counts["warning"]},
        canteen_id=row.canteen_id,
    )


def _decidable(computed: Computed) -> dict[str, tuple[Month, tuple[str, ...]]]:
    """Meals a reviewer may decide in this statement -> (origin month, flags): held meals (this month's or an
    earlier month's), undecided flagged sales of the month, and undecided sales of the month that an error check
    names (two canteens, daily limit …: only a decision resolves those)."""
    statement = computed.settlement.statement
    out = {h.meal_id: (h.origin, h.flags) for h in statement.held if h.status == "held"}
    named = {m for c in computed.settlement.checks if c.severity == "error" for m in c.evidence.meal_ids}
    for f in computed.facts:
        if f.kind != "sale" or f.decision is not None or f.meal_id in out:
            continue
        if f.flags or f.meal_id in named:
            out[f.meal_id] = (Month.of(f.service_date), f.flags)
    return out


def _insert_decisions(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    meal_ids: Sequence[str],
    origins: dict[str, tuple[Month, tuple[str, ...]]],
    decision: str,
    note: str,
    bulk_code: str | None,
) -> None:
    for mid in meal_ids:
        session.add(
            SettlementDecision(
                meal_id=uuid.UUID(mid),
                canteen_id=row.canteen_id,
                origin_month=str(origins[mid][0]),
                statement_id=row.id,
                decision=decision,
                note=note,
                bulk_code=bulk_code,
                decided_by=actor.name,
                decided_by_id=actor.id,
            )
        )
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(
            "该餐次已有审核决定（决定是最终的）",
            "the meal already has a decision (decisions are final)",
            code="decision.exists",
        ) from None


def decide(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    meal_id: uuid.UUID,
    decision: Literal["accepted", "rejected"],
    note: str,
) -> SettlementDecision:
    require(actor, PREPARERS, "无权审核餐次", "not allowed to decide on meals")
    _open(row)
    computed = compute(session, row=row, ctx=ctx)
    decidable = _decidable(computed)
    mid = str(meal_id)
    if mid not in decidable:
        if session.get(SettlementDecision, meal_id) is not None:
            raise Conflict(
                "该餐次已有审核决定（决定是最终的）",
                "the meal already has a decision (decisions are final)",
                code="decision.exists",
            )
        raise Invalid.field(
            "meal_id",
            "decision.not_flagged",
            "此餐次不是本结算单中待审核的标记餐次",
            "the meal is not a flagged meal awaiting a decision in this statement",
        )
    _insert_decisions(
        session, actor=actor, row=row, meal_ids=[mid], origins=decidable, decision=decision, note=note, bulk_code=None
    )
    _touch(row, session)
    audit.record(
        session,
        actor=actor,
        action="settlement.decide",
        object_type="meal",
        object_id=mid,
        after={
            "statement_id": str(row.id),
            "decision": decision,
            "note": note,
            "origin_month": str(decidable[mid][0]),
            "flags": list(decidable[mid][1]),
        },
        canteen_id=row.canteen_id,
    )
    found = session.get(SettlementDecision, meal_id)
    assert found is not None
    return found


def decide_bulk(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    code: str,
    decision: Literal["accepted", "rejected"],
    note: str,
) -> list[str]:
    """Decide every undecided meal of this statement that carries flag ``code``; one audit entry lists them."""
    require(actor, PREPARERS, "无权审核餐次", "not allowed to decide on meals")
    _open(row)
    computed = compute(session, row=row, ctx=ctx)
    decidable = _decidable(computed)
    ids = sorted(mid for mid, (_, flags) in decidable.items() if code in flags)
    if ids:
        _insert_decisions(
            session, actor=actor, row=row, meal_ids=ids, origins=decidable, decision=decision, note=note, bulk_code=code
        )
        _touch(row, session)
    audit.record(
        session,
        actor=actor,
        action="settlement.decide_bulk",
        object_type="settlement",
        object_id=row.id,
        after={"code": code, "decision": decision, "note": note, "meals": len(ids), "meal_ids": ids},
        canteen_id=row.canteen_id,
    )
    return ids


def add_line(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    kind: Literal["construction", "correction"],
    amount: int,
    note: str,
    origin_month: str | None = None,
) -> SettlementLine:
    require(actor, PREPARERS, "无权录入结算项", "not allowed to enter statement lines")
    _open(row)
    origin: Month | None = None
    if kind == "correction":
        origin = parse_month(origin_month or "", "origin_month")
        month = Month.parse(row.month)
        back = month.index() - origin.index()
        if back <= 0:
            raise Invalid.field(
                "origin_month",
                "correction.not_earlier",
                "调整只能针对更早的月份",
                "a correction is for an earlier month",
            )
        window = ctx.config.upward_window_months
        if amount > 0 and window is not None and back > window:
            raise Invalid.field(
                "amount",
                "correction.upward_window",
                f"向上调整只能针对 {window} 个月内的月份（向下调整不限）",
                f"upward corrections only for months up to {window} back (downward ones always)",
            )
    number = session.execute(
        sa.select(sa.func.coalesce(sa.func.max(col(SettlementLine.line_no)), 0)).where(
            col(SettlementLine.statement_id) == row.id
        )
    ).scalar_one()
    line = SettlementLine(
        statement_id=row.id,
        line_no=int(number) + 1,
        kind=kind,
        origin_month=None if origin is None else str(origin),
        amount=amount,
        note=note,
        created_by=actor.name,
    )
    session.add(line)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(
            "同时录入了另一项，请重试", "another line was entered at the same time: retry", code="line.race"
        ) from None
    _touch(row, session)
    audit.record(
        session,
        actor=actor,
        action=f"settlement.{kind}",
        object_type="settlement",
        object_id=row.id,
        after={"line_id": line.line_id, "amount": amount, "note": note, "origin_month": line.origin_month},
        canteen_id=row.canteen_id,
    )
    return line


def add_notes(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    key: str | None,
    code: str | None,
    note: str,
) -> list[str]:
    """A note on one warning (``key``) or on every current warning of a check (``code``)."""
    require(actor, NOTERS, "无权填写核查说明", "not allowed to note checks")
    _open(row)
    if (key is None) == (code is None):
        raise Invalid.field("key", "note.target", "请给出 key 或 code 之一", "give exactly one of key and code")
    computed = compute(session, row=row, ctx=ctx)
    checks = computed.settlement.checks
    targets = [c for c in checks if (c.key == key if key is not None else c.code == code)]
    if not targets:
        raise Invalid.field(
            "key" if key is not None else "code",
            "note.no_check",
            "本结算单当前没有这项核查结果",
            "no such check result on this statement now",
        )
    errors = [c for c in targets if c.severity == "error"]
    if errors and key is not None:
        raise Invalid.field(
            "key",
            "note.error",
            "错误不能靠说明放行，须先处理（审核相关餐次或更正）",
            "an error is not passed by a note: resolve it (decide its meals or correct)",
        )
    keys = sorted(c.key for c in targets if c.severity == "warning")
    existing = {
        n.check_key: n
        for n in session.exec(
            select(SettlementNote).where(
                col(SettlementNote.statement_id) == row.id, col(SettlementNote.check_key).in_(keys)
            )
        )
    }
    for k in keys:
        old = existing.get(k)
        if old is None:
            session.add(SettlementNote(statement_id=row.id, check_key=k, note=note, noted_by=actor.name))
        else:
            old.note, old.noted_by, old.noted_at = note, actor.name, utcnow()
            session.add(old)
    _touch(row, session)
    audit.record(
        session,
        actor=actor,
        action="settlement.note",
        object_type="settlement",
        object_id=row.id,
        before={k: existing[k].note for k in keys if k in existing} or None,
        after={"keys": keys, "note": note},
        canteen_id=row.canteen_id,
    )
    return keys


def _verdict_or_conflict(computed: Computed, what_zh: str, what_en: str) -> None:
    verdict = can_close(computed.settlement.checks, computed.notes)
    if not verdict.allowed:
        problems: list[Problem] = list(verdict.problems)
        raise Conflict(
            f"不能{what_zh}：{len(verdict.errors)} 项错误，{len(verdict.unnoted)} 项警告没有说明",
            f"cannot {what_en}: {len(verdict.errors)} errors, {len(verdict.unnoted)} warnings without a note",
            code="settlement.checks_block",
            problems=[problem_dict(p) for p in problems],
        )


def review(session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context) -> None:
    require(actor, REVIEWERS, "无权复核结算单", "not allowed to review statements")
    _open(row)
    if row.state != "draft":
        raise Conflict("结算单已复核", "the statement is already reviewed", code="settlement.state")
    computed = compute(session, row=row, ctx=ctx)
    _verdict_or_conflict(computed, "复核", "review")
    row.state = "reviewed"
    row.reviewed_by, row.reviewed_at = actor.name, utcnow()
    row.computed_hash = statement_hash(computed.settlement.statement)
    row.updated_at = row.reviewed_at
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="settlement.review",
        object_type="settlement",
        object_id=row.id,
        before={"state": "draft"},
        after={"state": "reviewed", "hash": row.computed_hash},
        canteen_id=row.canteen_id,
    )


def close(session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context) -> None:
    require(actor, REVIEWERS, "无权关账", "not allowed to close statements")
    _open(row)
    if row.state != "reviewed":
        raise Conflict("结算单须先复核才能关账", "a statement is reviewed before it closes", code="settlement.state")
    month = Month.parse(row.month)
    if local_today() <= month.last_day:
        raise Conflict(
            f"{month} 尚未结束，不能关账", f"{month} has not ended: it cannot close yet", code="settlement.month_open"
        )
    earlier = session.exec(
        select(SettlementStatement).where(
            col(SettlementStatement.canteen_id) == row.canteen_id,
            col(SettlementStatement.month) < row.month,
            col(SettlementStatement.state) != "closed",
        )
    ).first()
    if earlier is not None:
        raise Conflict(
            f"须先关账更早的 {earlier.month} 结算单",
            f"close the earlier {earlier.month} statement first",
            code="settlement.earlier_open",
        )
    now = utcnow()
    computed = compute(session, row=row, ctx=ctx)
    statement = computed.settlement.statement
    digest = statement_hash(statement)
    if digest != row.computed_hash:  # what closes is what a reviewer saw, or it goes back to them
        row.state, row.updated_at = "draft", now
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="settlement.changed_since_review",
            object_type="settlement",
            object_id=row.id,
            before={"state": "reviewed", "hash": row.computed_hash},
            after={"state": "draft", "hash": digest},
            canteen_id=row.canteen_id,
        )
        raise ChangedSinceReview
    _verdict_or_conflict(computed, "关账", "close")
    body = statement_bytes(statement)
    row.state = "closed"
    row.body = body.decode()
    row.content_hash = digest
    row.computed_hash = digest
    row.checks = _check_dicts(computed.settlement.checks, computed.notes)
    row.closed_by, row.closed_at, row.updated_at = actor.name, now, now
    session.add(row)
    session.add(
        ClosedMonth(canteen_id=row.canteen_id, month=row.month, statement_id=row.id, content_hash=digest, closed_at=now)
    )
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict("该月已关账", "the month is already closed", code="settlement.closed") from None
    audit.record(
        session,
        actor=actor,
        action="settlement.close",
        object_type="settlement",
        object_id=row.id,
        before={"state": "reviewed"},
        after={"state": "closed", "hash": digest, "payable": statement.totals.payable},
        canteen_id=row.canteen_id,
    )


def months_between(first: Month, last: Month) -> list[Month]:
    if last < first:
        raise Invalid.field("to_month", "month.order", "结束月份早于开始月份", "to_month is before from_month")
    out = [first]
    while out[-1] < last:
        out.append(out[-1].next())
    if len(out) > MAX_SUMMARY_MONTHS:
        raise Invalid.field(
            "to_month", "month.span", f"最多 {MAX_SUMMARY_MONTHS} 个月", f"at most {MAX_SUMMARY_MONTHS} months"
        )
    return out


def require_bureau(actor: Principal) -> None:
    require(actor, BUREAU, "仅限民政局工作人员", "bureau staff only")


def load_for(
    session: Session,
    *,
    actor: Principal,
    statement_id: uuid.UUID,
    roles: frozenset[Role],
    category_key: str,
    config: SettlementConfig,
    write: bool = False,
) -> tuple[SettlementStatement, Context]:
    """The statement and its context, after checking the role (403) before the canteen (404)."""
    require(actor, roles, "无权执行此结算操作", "not allowed to do this to statements")
    row = get_row(session, actor=actor, statement_id=statement_id, for_update=write)
    canteen = session.get(Canteen, row.canteen_id)
    assert canteen is not None
    return row, context(session, canteen, category_key=category_key, config=config)
