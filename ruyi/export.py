"""Settlement exports as CSV bytes, reproducible byte for byte from the same statement, and what every export of
a statement shows: the title block (:class:`StatementDoc`, :class:`ProgrammeDoc`), the state in Chinese
(:data:`STATE_TEXT`), the subsidy tiers by their rule-book labels (:func:`tier_label`) and the rule versions in
force in the month (:func:`versions_in`).

CSV format (for Excel in a Chinese locale and for finance scripts alike):

- UTF-8 with a byte-order mark (Excel then reads Chinese correctly), CRLF line ends (RFC 4180), comma-separated;
  a field is quoted (``"``, doubled inside) only when it holds a comma, a quote, CR/LF or leading/trailing space.
- **A title block** first: one row per item, ``Chinese label, value for people, English key, value for
  scripts`` (e.g. ``状态,已关闭,state,closed``), then one empty row. Then the table with **two header rows**: row 1
  Chinese column names (for people), row 2 fixed English keys (for scripts). The column order is fixed by
  :data:`STATEMENT_COLUMNS` / :data:`PROGRAMME_COLUMNS` and never changes within a format.
- Amounts are yuan with exactly two decimals, no symbol and no thousands separator (``1234.50``, ``-3.00``),
  written from integer fen: exact (``Decimal(text) * 100`` is the fen; the JSON export has the fen themselves),
  so no separate fen column; their English keys end in ``_yuan``. Counts are integers, dates ``YYYY-MM-DD``,
  months ``YYYY-MM``.
- Coded values are shown by their text with the code beside it: the tier's label and ``tier_code``, the section
  and ``row`` (``line``, ``operating``, ``construction``, ``adjustment``, ``held``, ``subtotal``, ``total``,
  ``hash``).
- Free text entered by people (notes) that would start with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading
  apostrophe, so a spreadsheet never runs it as a formula.
- Each section ends with a subtotal row (``row`` = ``subtotal``), the statement with its total row and a row
  holding the content hash (:func:`ruyi.settlement.statement_hash`).
- The programme file is one totals row per canteen (:class:`ProgrammeRow`, code and name) with its closed
  statement's hash (empty while open) and a total row; distinct elders are left empty there (they do not add up).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ruyi.flags import FLAG_TEXT
from ruyi.money import Fen, format_yuan
from ruyi.redact import CATEGORY_TIER_LABEL
from ruyi.rules import SLOT_TEXT, RuleBook, RuleVersion
from ruyi.settlement import (
    AdjustmentLine,
    ConstructionLine,
    HeldMeal,
    Line,
    Month,
    OperatingDay,
    Statement,
    Totals,
    statement_hash,
)
from ruyi.settlement.recheck import ELIGIBILITY_CHANGED

BOM = "\ufeff"
CRLF = "\r\n"

STATE_TEXT: dict[str, tuple[str, str]] = {
    "none": ("未建结算单", "no statement"),
    "draft": ("草稿", "draft"),
    "reviewed": ("已审核", "reviewed"),
    "closed": ("已关闭", "closed"),
}
"""A statement's state (the API's English key) in Chinese and English."""
CATEGORY_TIER = "category"
"""The tier a statement shows callers who may not see categories in place of every category tier."""
FULL_PRICE = "原价（无补贴）"
SIGNATURES: tuple[tuple[str, str], ...] = (
    ("制表人", "prepared_by"),
    ("审核人", "reviewed_by"),
    ("批准人", "approved_by"),
)
"""The signature lines of a printed statement (each with a date)."""
CSV_AMOUNTS = ("元，两位小数（由整数分写出，精确）", "yuan")


def state_text(state: str) -> str:
    return STATE_TEXT.get(state, (state, state))[0]


def month_text(month: Month) -> str:
    return f"{month.year}年{month.month:02d}月"


# ---------------------------------------------------------------------------------------------------------------
# Rule versions and tier labels


def versions_in(book: RuleBook, month: Month) -> tuple[RuleVersion, ...]:
    """The versions of ``book`` in force on at least one day of ``month``, oldest first."""
    out = []
    for i, v in enumerate(book.versions):
        end = book.end_of(i)
        if v.effective_from <= month.last_day and (end is None or end >= month.first_day):
            out.append(v)
    return tuple(out)


def version_text(book: RuleBook, v: RuleVersion) -> str:
    """``2026.1（2026-01-01 至 2026-06-30）`` or ``2026.7（2026-07-01 起）``."""
    end = book.end_of(book.versions.index(v))
    span = f"{v.effective_from} 起" if end is None else f"{v.effective_from} 至 {end}"
    return f"{v.id}（{span}）"


def tier_label(book: RuleBook, day: date, tier: str) -> str:
    """The label people read for a line's ``tier`` (tier ids joined by ``+``; empty for full price): each id's
    label in the version in force on ``day`` (else in the latest version that has it), joined by ``＋``."""
    if not tier:
        return FULL_PRICE
    return "＋".join(_one_label(book, day, t) for t in tier.split("+"))


def _one_label(book: RuleBook, day: date, tier_id: str) -> str:
    if tier_id == CATEGORY_TIER:
        return CATEGORY_TIER_LABEL
    version = book.version_on(day)
    candidates = ([version] if version is not None else []) + list(reversed(book.versions))
    for v in candidates:
        for t in v.tiers:
            if t.id == tier_id:
                return t.label
    return tier_id


# ---------------------------------------------------------------------------------------------------------------
# What a statement export is about


@dataclass(frozen=True, slots=True)
class StatementDoc:
    """One canteen's month as exported: the statement (masked or not), its rule book, whose it is and its state.
    Every file made from it (CSV, XLSX, PDF) carries the same title block (:meth:`title_block`)."""

    statement: Statement
    book: RuleBook
    canteen_code: str
    canteen_name: str
    state: str
    """``draft``, ``reviewed`` or ``closed`` (:data:`STATE_TEXT`)."""
    masked: bool = False
    """Category tiers merged into :data:`CATEGORY_TIER` (a caller without ``categories.read``)."""
    closed_at: datetime | None = None
    facts: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Meal id -> (zh, en) the registry fact behind a held ``eligibility_changed`` meal of the month
    (:attr:`ruyi.settlement.Settlement.facts`), shown beside it; empty for a closed month or a masked export."""

    @property
    def hash(self) -> str:
        return statement_hash(self.statement)

    @property
    def versions(self) -> tuple[RuleVersion, ...]:
        return versions_in(self.book, self.statement.month)

    @property
    def title(self) -> str:
        return f"{self.book.name} 结算单"

    def label(self, line: Line) -> str:
        return tier_label(self.book, line.day, line.tier)

    def version_of(self, day: date) -> str:
        v = self.book.version_on(day)
        return v.id if v is not None else ""

    def title_block(self, amounts: tuple[str, str]) -> list[tuple[str, str, str, str]]:
        """(Chinese label, text for people, English key, value for scripts), in the order every file shows;
        ``amounts``: how the file writes money (text for people, ``yuan`` or ``fen``)."""
        s = self.statement
        hash_label = "内容哈希（本视图）" if self.masked else "内容哈希"
        block = [
            ("文件", self.title, "document", "settlement statement"),
            ("补贴项目", self.book.name, "programme", s.programme),
            ("食堂编号", self.canteen_code, "canteen_code", self.canteen_code),
            ("食堂名称", self.canteen_name, "canteen_name", self.canteen_name),
            ("月份", month_text(s.month), "month", str(s.month)),
            ("状态", state_text(self.state), "state", self.state),
            ("规则版本", "；".join(version_text(self.book, v) for v in self.versions), "rule_versions",
             ";".join(v.id for v in self.versions)),
        ]  # fmt: skip
        if self.closed_at is not None:
            at = self.closed_at if self.closed_at.tzinfo is not None else self.closed_at.replace(tzinfo=UTC)
            local = f"{at.astimezone(self.book.zone):%Y-%m-%d %H:%M}（{self.book.timezone}）"
            block.append(("关账时间", local, "closed_at", f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"))
        if self.masked:
            block.append(("说明", f"分类补贴档次已合并为“{CATEGORY_TIER_LABEL}”", "masked", "true"))
        block += [("金额单位", amounts[0], "amounts", amounts[1]), (hash_label, self.hash, "statement_hash", self.hash)]
        return block


# ---------------------------------------------------------------------------------------------------------------
# CSV


STATEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("类别", "section"),
    ("日期", "day"),
    ("餐次", "slot"),
    ("补贴档次", "tier"),
    ("档次代码", "tier_code"),
    ("规则版本", "rule_version"),
    ("原属月份", "origin_month"),
    ("说明", "item"),
    ("餐数", "meals"),
    ("人数", "elders"),
    ("餐费金额(元)", "price_yuan"),
    ("老人补贴(元)", "elder_subsidy_yuan"),
    ("个人自付(元)", "elder_pays_yuan"),
    ("运营补贴封顶前(元)", "operating_gross_yuan"),
    ("运营补贴(元)", "operating_yuan"),
    ("建设补贴(元)", "construction_yuan"),
    ("调整金额(元)", "adjustment_yuan"),
    ("应付金额(元)", "payable_yuan"),
    ("暂缓补贴(元)", "held_subsidy_yuan"),
    ("餐次编号", "meal_id"),
    ("行类型", "row"),
)

PROGRAMME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("补贴项目", "programme"),
    ("食堂编号", "canteen_code"),
    ("食堂名称", "canteen_name"),
    ("月份", "month"),
    ("状态", "state"),
    ("状态代码", "state_code"),
    ("餐数", "meals"),
    ("补贴餐数", "subsidised_meals"),
    ("就餐老人数", "elders"),
    ("老人人天", "elder_days"),
    ("餐费金额(元)", "price_yuan"),
    ("老人补贴(元)", "elder_subsidy_yuan"),
    ("个人自付(元)", "elder_pays_yuan"),
    ("运营补贴封顶前(元)", "operating_gross_yuan"),
    ("运营补贴(元)", "operating_yuan"),
    ("建设补贴(元)", "construction_yuan"),
    ("调整金额(元)", "adjustments_yuan"),
    ("应付金额(元)", "payable_yuan"),
    ("暂缓餐数", "held_meals"),
    ("暂缓补贴(元)", "held_subsidy_yuan"),
    ("内容哈希", "statement_hash"),
    ("食堂ID", "canteen_id"),
    ("行类型", "row"),
)

SECTION_TEXT = {
    "line": "就餐补贴",
    "operating": "运营补贴",
    "construction": "建设补贴",
    "adjustment": "调整",
    "held": "暂缓/不予支付",
    "total": "合计",
    "hash": "内容哈希",
}
ADJUSTMENT_TEXT = {
    "late_paid": "补报餐次补贴",
    "reversed": "冲回已付补贴",
    "eligibility_changed": "登记信息变更（身故、注销、暂停、类别结束、卡挂失），冲回已付补贴",
    "operating": "运营补贴重算差额",
    "correction": "人工调整",
}
HELD_TEXT = {"held": "待审核", "rejected": "审核不予支付", "window_expired": "超出补报期限"}
BASIS_TEXT = {"meal": "按餐次", "elder_day": "按人天"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _y(fen: Fen) -> str:
    return format_yuan(fen, symbol=False)


def _text(value: str) -> str:
    """People's free text, made safe from spreadsheet formulas."""
    return "'" + value if value.startswith(_FORMULA_START) else value


SHORT_FLAG_TEXT = {ELIGIBILITY_CHANGED: "登记信息变更，补贴不再成立"}
"""What a held meal's row says for a flag whose full text (:data:`ruyi.flags.FLAG_TEXT`) is a paragraph."""


def flags_text(h: HeldMeal, doc: StatementDoc | None = None) -> str:
    """The flags a held meal carries, in Chinese; with ``doc``, the registry fact behind an
    ``eligibility_changed`` hold (:attr:`StatementDoc.facts`), or for a meal of a closed month taken back, where
    the facts are named (the adjustment line's note)."""
    text = "、".join(SHORT_FLAG_TEXT.get(f) or FLAG_TEXT.get(f, (f, f))[0] for f in h.flags)
    if doc is None or ELIGIBILITY_CHANGED not in h.flags:
        return text
    fact = doc.facts.get(h.meal_id)
    if fact is not None:
        return f"{text}；{fact[0]}"
    if h.origin != doc.statement.month and h.status == "held":
        return f"{text}（见调整项说明）"
    return text


def reasons_text(h: HeldMeal, doc: StatementDoc | None = None) -> str:
    """Why a meal is held or not paid, in Chinese: its status, then its flags (:func:`flags_text`)."""
    reasons = flags_text(h, doc)
    return HELD_TEXT[h.status] + (f"：{reasons}" if reasons else "")


def _field(value: str) -> str:
    if any(c in value for c in ',"\r\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv(
    block: Sequence[tuple[str, str, str, str]], columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, str]]
) -> bytes:
    keys = [en for _, en in columns]
    out = [",".join(_field(_text(v)) for v in item) for item in block]
    out += ["", ",".join(_field(zh) for zh, _ in columns), ",".join(keys)]
    for row in rows:
        unknown = row.keys() - set(keys)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        out.append(",".join(_field(row.get(k, "")) for k in keys))
    return (BOM + CRLF.join(out) + CRLF).encode("utf-8")


def statement_rows(doc: StatementDoc) -> list[dict[str, str]]:
    """The table of :func:`statement_csv` (by English column key): each section, then its subtotal."""
    s = doc.statement
    return [
        *(_line_row(doc, x) for x in s.lines),
        _subtotal("line", meals=sum(x.meals for x in s.lines), price_yuan=_y(sum(x.price for x in s.lines)),
                  elder_subsidy_yuan=_y(sum(x.elder_subsidy for x in s.lines)),
                  elder_pays_yuan=_y(sum(x.elder_pays for x in s.lines)),
                  payable_yuan=_y(sum(x.elder_subsidy for x in s.lines))),
        *map(_operating_row, s.operating),
        _subtotal("operating", meals=sum(len(d.meal_ids) for d in s.operating),
                  operating_gross_yuan=_y(sum(d.gross for d in s.operating)),
                  operating_yuan=_y(sum(d.paid for d in s.operating)),
                  payable_yuan=_y(sum(d.paid for d in s.operating))),
        *map(_construction_row, s.construction),
        _subtotal("construction", construction_yuan=_y(sum(c.amount for c in s.construction)),
                  payable_yuan=_y(sum(c.amount for c in s.construction))),
        *map(_adjustment_row, s.adjustments),
        _subtotal("adjustment", meals=sum(len(a.meal_ids) for a in s.adjustments),
                  adjustment_yuan=_y(sum(a.amount for a in s.adjustments)),
                  payable_yuan=_y(sum(a.amount for a in s.adjustments))),
        *(_held_row(h, doc) for h in s.held),
        _subtotal("held", meals=len(s.held), held_subsidy_yuan=_y(sum(h.subsidy for h in s.held))),
        _total_row(doc),
        {"section": SECTION_TEXT["hash"], "item": doc.hash, "row": "hash"},
    ]  # fmt: skip


def _subtotal(section: str, *, meals: int | None = None, **amounts: str) -> dict[str, str]:
    row = {"section": f"{SECTION_TEXT[section]}小计", "row": "subtotal", **amounts}
    if meals is not None:
        row["meals"] = str(meals)
    return row


def _line_row(doc: StatementDoc, line: Line) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["line"],
        "day": line.day.isoformat(),
        "slot": SLOT_TEXT[line.slot][0],
        "tier": doc.label(line),
        "tier_code": line.tier,
        "rule_version": doc.version_of(line.day),
        "meals": str(line.meals),
        "elders": str(line.elders),
        "price_yuan": _y(line.price),
        "elder_subsidy_yuan": _y(line.elder_subsidy),
        "elder_pays_yuan": _y(line.elder_pays),
        "payable_yuan": _y(line.elder_subsidy),
        "row": "line",
    }


def operating_text(d: OperatingDay) -> str:
    capped = "" if d.paid == d.gross else f"，封顶后 {_y(d.paid)}"
    return f"{BASIS_TEXT[d.basis]} {_y(d.amount_each)} × {d.units}{capped}"


def _operating_row(d: OperatingDay) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["operating"],
        "day": d.day.isoformat(),
        "rule_version": d.rule_version,
        "item": operating_text(d),
        "meals": str(len(d.meal_ids)),
        "elders": str(d.units) if d.basis == "elder_day" else "",
        "operating_gross_yuan": _y(d.gross),
        "operating_yuan": _y(d.paid),
        "payable_yuan": _y(d.paid),
        "row": "operating",
    }


def _construction_row(c: ConstructionLine) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["construction"],
        "item": _text(f"{c.line_id} {c.note}".strip()),
        "construction_yuan": _y(c.amount),
        "payable_yuan": _y(c.amount),
        "row": "construction",
    }


def _adjustment_row(a: AdjustmentLine) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["adjustment"],
        "origin_month": str(a.origin),
        "item": f"{ADJUSTMENT_TEXT[a.kind]} {a.line_id} {_text(a.note)}".strip(),
        "meals": str(len(a.meal_ids)) if a.meal_ids else "",
        "adjustment_yuan": _y(a.amount),
        "payable_yuan": _y(a.amount),
        "row": "adjustment",
    }


def _held_row(h: HeldMeal, doc: StatementDoc) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["held"],
        "day": h.service_date.isoformat(),
        "slot": SLOT_TEXT[h.slot][0],
        "origin_month": str(h.origin),
        "item": reasons_text(h, doc),
        "meals": "1",
        "held_subsidy_yuan": _y(h.subsidy),
        "meal_id": h.meal_id,
        "row": "held",
    }


def _total_row(doc: StatementDoc) -> dict[str, str]:
    t = doc.statement.totals
    return {
        "section": SECTION_TEXT["total"],
        "item": f"{doc.canteen_code} {doc.canteen_name} {doc.statement.month}（暂缓补贴只计待审核的）",
        "meals": str(t.meals),
        "elders": str(t.elders),
        "price_yuan": _y(t.price),
        "elder_subsidy_yuan": _y(t.elder_subsidy),
        "elder_pays_yuan": _y(t.elder_pays),
        "operating_gross_yuan": _y(t.operating_gross),
        "operating_yuan": _y(t.operating),
        "construction_yuan": _y(t.construction),
        "adjustment_yuan": _y(t.adjustments),
        "payable_yuan": _y(t.payable),
        "held_subsidy_yuan": _y(t.held_subsidy),
        "row": "total",
    }


def statement_csv(doc: StatementDoc) -> bytes:
    """One canteen's month: the title block, then meal lines, operating days, construction, adjustments, held
    meals (each with a subtotal), the total and the hash."""
    return _csv(doc.title_block(CSV_AMOUNTS), STATEMENT_COLUMNS, statement_rows(doc))


# ---------------------------------------------------------------------------------------------------------------
# The whole programme's month


@dataclass(frozen=True, slots=True)
class ProgrammeRow:
    """One canteen's month in the whole programme's export: its totals, and the content hash of its statement
    once closed (None while it is open: the figures are as computed now, and change as meals arrive)."""

    canteen_id: str
    month: Month
    state: str
    """``none`` (no statement yet), ``draft``, ``reviewed`` or ``closed``."""
    totals: Totals
    statement_hash: str | None
    canteen_code: str = field(kw_only=True)
    canteen_name: str = field(kw_only=True)
    programme: str = field(kw_only=True)
    """The rule book (programme code) the canteen settles under."""


PROGRAMME_SUMMED = (
    "meals",
    "subsidised_meals",
    "elder_days",
    "price",
    "elder_subsidy",
    "elder_pays",
    "operating_gross",
    "operating",
    "construction",
    "adjustments",
    "payable",
    "held_meals",
    "held_subsidy",
)
"""The totals that add up across canteens (distinct elders do not: one elder eats at several)."""
_COUNTS = frozenset({"meals", "subsidised_meals", "elders", "elder_days", "held_meals"})


def programme_total(rows: Iterable[ProgrammeRow]) -> dict[str, int]:
    """The sums of :data:`PROGRAMME_SUMMED` over ``rows``."""
    rows = list(rows)
    return {k: sum(getattr(r.totals, k) for r in rows) for k in PROGRAMME_SUMMED}


@dataclass(frozen=True, slots=True)
class ProgrammeDoc:
    """The whole programme's month as exported: one row per canteen (sorted by code), the rule books the
    canteens settle under (by programme code), and the content hash of the programme's JSON export."""

    month: Month
    rows: tuple[ProgrammeRow, ...]
    books: Mapping[str, RuleBook]
    content_hash: str

    def __post_init__(self) -> None:
        if any(r.month != self.month for r in self.rows):
            raise ValueError("a programme export covers one month")
        if len({r.canteen_id for r in self.rows}) != len(self.rows):
            raise ValueError("one row per canteen")
        object.__setattr__(self, "rows", tuple(sorted(self.rows, key=lambda r: (r.canteen_code, r.canteen_id))))

    def programme_name(self, code: str) -> str:
        book = self.books.get(code)
        return book.name if book is not None else code

    def title_block(self, amounts: tuple[str, str]) -> list[tuple[str, str, str, str]]:
        """As :meth:`StatementDoc.title_block`, for the programme's month."""
        codes = sorted({r.programme for r in self.rows} | set(self.books))
        versions = [(c, versions_in(self.books[c], self.month)) for c in codes if c in self.books]
        states = [(k, sum(r.state == k for r in self.rows)) for k in STATE_TEXT]
        return [
            ("文件", "助餐补贴月度汇总（各食堂）", "document", "programme month"),
            ("补贴项目", "；".join(self.programme_name(c) for c in codes), "programme", ";".join(codes)),
            ("月份", month_text(self.month), "month", str(self.month)),
            ("规则版本", "；".join(f"{self.programme_name(c)}：" + "、".join(version_text(self.books[c], v) for v in vs)
                               for c, vs in versions), "rule_versions",
             ";".join(f"{c}:" + ",".join(v.id for v in vs) for c, vs in versions)),
            ("食堂数", str(len(self.rows)), "canteens", str(len(self.rows))),
            ("状态", "，".join(f"{state_text(k)} {n}" for k, n in states if n), "states",
             ";".join(f"{k}:{n}" for k, n in states if n)),
            ("金额单位", amounts[0], "amounts", amounts[1]),
            ("内容哈希（JSON导出）", self.content_hash, "content_hash", self.content_hash),
        ]  # fmt: skip


def programme_csv(doc: ProgrammeDoc) -> bytes:
    """The whole programme for one month: the title block, one row per canteen (sorted by code) and a total row."""

    def figures(values: Mapping[str, int]) -> dict[str, str]:
        return {k if k in _COUNTS else f"{k}_yuan": str(v) if k in _COUNTS else _y(v) for k, v in values.items()}

    out: list[dict[str, str]] = []
    for r in doc.rows:
        t = r.totals
        out.append(
            {"programme": doc.programme_name(r.programme), "canteen_code": r.canteen_code,
             "canteen_name": r.canteen_name, "canteen_id": r.canteen_id, "month": str(r.month),
             "state": state_text(r.state), "state_code": r.state, "statement_hash": r.statement_hash or "",
             "row": "canteen"}
            | figures({k: getattr(t, k) for k in (*PROGRAMME_SUMMED, "elders")})
        )  # fmt: skip
    total = {"canteen_code": "合计", "canteen_name": f"{len(doc.rows)} 个食堂", "month": str(doc.month), "row": "total"}
    out.append(total | figures(programme_total(doc.rows)))
    return _csv(doc.title_block(CSV_AMOUNTS), PROGRAMME_COLUMNS, out)
