"""Settlement exports as CSV bytes, reproducible byte for byte from the same statement.

Format (for Excel in a Chinese locale and for finance scripts alike):

- UTF-8 with a byte-order mark (Excel then reads Chinese correctly), CRLF line ends (RFC 4180), comma-separated;
  a field is quoted (``"``, doubled inside) only when it holds a comma, a quote, CR/LF or leading/trailing space.
- **Two header rows**: row 1 Chinese column names (for people), row 2 fixed English keys (for scripts: skip row 1,
  or read both as a two-level header). The column order is fixed by :data:`STATEMENT_COLUMNS` /
  :data:`PROGRAMME_COLUMNS` and never changes within a format.
- Amounts are yuan with exactly two decimals and no symbol (``1234.50``, ``-3.00``), written from integer fen
  (exact; the API's JSON has the fen). Counts are integers, dates ``YYYY-MM-DD``, months ``YYYY-MM``.
- Free text entered by people (notes) that would start with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading
  apostrophe, so a spreadsheet never runs it as a formula.
- The statement file ends with a row holding the statement's content hash (:func:`ruyi.settlement.statement_hash`).
- The programme file is one totals row per canteen (:class:`ProgrammeRow`) with its closed statement's hash (empty
  while open) and a total row; distinct elders are left empty there (they do not add up).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ruyi.flags import FLAG_TEXT
from ruyi.money import Fen, format_yuan
from ruyi.rules import SLOT_TEXT
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

BOM = "\ufeff"
CRLF = "\r\n"

STATEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("类别", "section"),
    ("日期", "day"),
    ("餐次", "slot"),
    ("补贴档次/规则版本", "tier"),
    ("原属月份", "origin_month"),
    ("说明", "item"),
    ("餐数", "meals"),
    ("人数", "elders"),
    ("餐费金额", "price"),
    ("老人补贴", "elder_subsidy"),
    ("个人自付", "elder_pays"),
    ("运营补贴(封顶前)", "operating_gross"),
    ("运营补贴", "operating"),
    ("建设补贴", "construction"),
    ("调整金额", "adjustment"),
    ("应付金额", "payable"),
    ("暂缓补贴", "held_subsidy"),
    ("餐次编号", "meal_id"),
)

PROGRAMME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("食堂", "canteen"),
    ("月份", "month"),
    ("状态", "state"),
    ("餐数", "meals"),
    ("补贴餐数", "subsidised_meals"),
    ("就餐老人数", "elders"),
    ("老人人天", "elder_days"),
    ("餐费金额", "price"),
    ("老人补贴", "elder_subsidy"),
    ("个人自付", "elder_pays"),
    ("运营补贴(封顶前)", "operating_gross"),
    ("运营补贴", "operating"),
    ("建设补贴", "construction"),
    ("调整金额", "adjustments"),
    ("应付金额", "payable"),
    ("暂缓餐数", "held_meals"),
    ("暂缓补贴", "held_subsidy"),
    ("内容哈希", "statement_hash"),
)

SECTION_TEXT = {
    "meals": "就餐补贴",
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


def _field(value: str) -> str:
    if any(c in value for c in ',"\r\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv(columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, str]]) -> bytes:
    keys = [en for _, en in columns]
    out = [",".join(_field(zh) for zh, _ in columns), ",".join(keys)]
    for row in rows:
        unknown = row.keys() - set(keys)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        out.append(",".join(_field(row.get(k, "")) for k in keys))
    return (BOM + CRLF.join(out) + CRLF).encode("utf-8")


def statement_rows(s: Statement) -> list[dict[str, str]]:
    """The rows of :func:`statement_csv` (by English column key)."""
    return [
        *map(_line_row, s.lines),
        *map(_operating_row, s.operating),
        *map(_construction_row, s.construction),
        *map(_adjustment_row, s.adjustments),
        *map(_held_row, s.held),
        _total_row(s),
        {"section": SECTION_TEXT["hash"], "item": statement_hash(s)},
    ]


def _line_row(line: Line) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["meals"],
        "day": line.day.isoformat(),
        "slot": SLOT_TEXT[line.slot][0],
        "tier": line.tier or "原价",
        "meals": str(line.meals),
        "elders": str(line.elders),
        "price": _y(line.price),
        "elder_subsidy": _y(line.elder_subsidy),
        "elder_pays": _y(line.elder_pays),
        "payable": _y(line.elder_subsidy),
    }


def _operating_row(d: OperatingDay) -> dict[str, str]:
    capped = "" if d.paid == d.gross else f"，封顶后 {_y(d.paid)}"
    return {
        "section": SECTION_TEXT["operating"],
        "day": d.day.isoformat(),
        "tier": d.rule_version,
        "item": f"{BASIS_TEXT[d.basis]} {_y(d.amount_each)} × {d.units}{capped}",
        "meals": str(len(d.meal_ids)),
        "elders": str(d.units) if d.basis == "elder_day" else "",
        "operating_gross": _y(d.gross),
        "operating": _y(d.paid),
        "payable": _y(d.paid),
    }


def _construction_row(c: ConstructionLine) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["construction"],
        "item": _text(f"{c.line_id} {c.note}".strip()),
        "construction": _y(c.amount),
        "payable": _y(c.amount),
    }


def _adjustment_row(a: AdjustmentLine) -> dict[str, str]:
    return {
        "section": SECTION_TEXT["adjustment"],
        "origin_month": str(a.origin),
        "item": f"{ADJUSTMENT_TEXT[a.kind]} {a.line_id} {_text(a.note)}".strip(),
        "meals": str(len(a.meal_ids)) if a.meal_ids else "",
        "adjustment": _y(a.amount),
        "payable": _y(a.amount),
    }


def _held_row(h: HeldMeal) -> dict[str, str]:
    reasons = "、".join(FLAG_TEXT.get(f, (f, f))[0] for f in h.flags)
    return {
        "section": SECTION_TEXT["held"],
        "day": h.service_date.isoformat(),
        "slot": SLOT_TEXT[h.slot][0],
        "origin_month": str(h.origin),
        "item": HELD_TEXT[h.status] + (f"：{reasons}" if reasons else ""),
        "meals": "1",
        "held_subsidy": _y(h.subsidy),
        "meal_id": h.meal_id,
    }


def _total_row(s: Statement) -> dict[str, str]:
    t = s.totals
    return {
        "section": SECTION_TEXT["total"],
        "item": f"{s.canteen_id} {s.month}",
        "meals": str(t.meals),
        "elders": str(t.elders),
        "price": _y(t.price),
        "elder_subsidy": _y(t.elder_subsidy),
        "elder_pays": _y(t.elder_pays),
        "operating_gross": _y(t.operating_gross),
        "operating": _y(t.operating),
        "construction": _y(t.construction),
        "adjustment": _y(t.adjustments),
        "payable": _y(t.payable),
        "held_subsidy": _y(t.held_subsidy),
    }


def statement_csv(s: Statement) -> bytes:
    """One canteen's month: meal lines, operating days, construction, adjustments, held meals, total, hash."""
    return _csv(STATEMENT_COLUMNS, statement_rows(s))


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


def programme_csv(rows: Iterable[ProgrammeRow]) -> bytes:
    """The whole programme for one month: one row per canteen (sorted by canteen id) and a total row."""
    items = sorted(rows, key=lambda r: r.canteen_id)
    months = {r.month for r in items}
    if len(months) > 1:
        raise ValueError("a programme export covers one month")
    if len({r.canteen_id for r in items}) != len(items):
        raise ValueError("one row per canteen")

    def figures(values: dict[str, int]) -> dict[str, str]:
        return {k: str(v) if k in _COUNTS else _y(v) for k, v in values.items()}

    out: list[dict[str, str]] = []
    for r in items:
        t = r.totals
        out.append(
            {"canteen": r.canteen_id, "month": str(r.month), "state": r.state, "statement_hash": r.statement_hash or ""}
            | figures({k: getattr(t, k) for k in (*PROGRAMME_SUMMED, "elders")})
        )
    month = str(next(iter(months))) if months else ""
    out.append({"canteen": "合计", "month": month} | figures(programme_total(items)))
    return _csv(PROGRAMME_COLUMNS, out)
