"""XLSX exports, reproducible byte for byte from the same data.

Amounts are written as **integer fen** (exact; what a finance script reads, the same numbers as the API's JSON)
with the number format ``0"."00``, so a spreadsheet shows them as yuan with two decimals (12345 shows as
123.45) and sums of them are still exact: no float ever holds money. Column keys in the second header row end in
``_fen`` to say so.

Reproducible: the workbook's created/modified properties are fixed, and the zip is written again with every
entry's timestamp fixed (1980-01-01), in openpyxl's order, with the same compression. Nothing in the file depends
on the clock, the host or the user.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ruyi.export import (
    ADJUSTMENT_TEXT,
    BASIS_TEXT,
    HELD_TEXT,
    PROGRAMME_COLUMNS,
    STATEMENT_COLUMNS,
    ProgrammeRow,
    programme_total,
)
from ruyi.flags import FLAG_TEXT
from ruyi.rules import SLOT_TEXT
from ruyi.settlement import Statement, statement_hash

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN_FORMAT = '0"."00'
FIXED_TIME = datetime(2000, 1, 1, tzinfo=UTC).replace(tzinfo=None)  # openpyxl takes naive UTC
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

Column = tuple[str, str, bool]
"""(Chinese header, English key, is an amount in fen)."""


def _sheet(wb: Workbook, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Worksheet:
    ws: Worksheet = wb.create_sheet(title)
    ws.append([zh for zh, _, _ in columns])
    ws.append([en for _, en, _ in columns])
    money = [i + 1 for i, (_, _, fen) in enumerate(columns) if fen]
    for row in rows:
        ws.append(list(row))
        r = ws.max_row
        for c in money:
            ws.cell(row=r, column=c).number_format = YUAN_FORMAT
    ws.freeze_panes = "A3"
    return ws


def _text(value: str) -> str:
    """People's free text, never a formula."""
    return "'" + value if value.startswith(("=", "+", "-", "@")) else value


def workbook_bytes(wb: Workbook) -> bytes:
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "ruyi"
    wb.properties.lastModifiedBy = None
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _new() -> Workbook:
    wb = Workbook()
    if wb.active is not None:
        wb.remove(wb.active)
    return wb


_AMOUNTS = frozenset(
    {"price", "elder_subsidy", "elder_pays", "operating_gross", "operating_cap_reduction", "operating",
     "construction", "adjustments", "payable", "held_subsidy"}
)  # fmt: skip
_LABELS = {en: zh for zh, en in PROGRAMME_COLUMNS} | {
    "canteen_code": "食堂编号",
    "canteen_name": "食堂",
    "canteen_id": "食堂ID",
    "programme": "补贴项目",
    "operating_cap_reduction": "封顶扣减",
    "format": "格式",
}
"""Chinese labels by key: the programme CSV's, and the few fields only the XLSX files show."""


def _columns(labels: Mapping[str, str], keys: Sequence[str]) -> tuple[Column, ...]:
    """Columns named as in the CSV exports; amounts (in fen here) get the ``_fen`` key."""
    return tuple((labels[k], f"{k}_fen" if k in _AMOUNTS else k, k in _AMOUNTS) for k in keys)


_LINE_COLUMNS = _columns(
    {en: zh for zh, en in STATEMENT_COLUMNS} | {"tier": "补贴档次"},
    ("day", "slot", "tier", "meals", "elders", "price", "elder_subsidy", "elder_pays"),
)
_OPERATING_COLUMNS: tuple[Column, ...] = (
    ("日期", "day", False),
    ("规则版本", "rule_version", False),
    ("计算方式", "basis", False),
    ("数量", "units", False),
    ("单价", "amount_each_fen", True),
    ("封顶前", "gross_fen", True),
    ("月封顶", "cap_fen", True),
    ("实付", "paid_fen", True),
)
_BUREAU_COLUMNS: tuple[Column, ...] = (
    ("类别", "kind", False),
    ("原属月份", "origin_month", False),
    ("编号", "line_id", False),
    ("说明", "note", False),
    ("餐数", "meals", False),
    ("金额", "amount_fen", True),
)
_HELD_COLUMNS: tuple[Column, ...] = (
    ("餐次编号", "meal_id", False),
    ("原属月份", "origin_month", False),
    ("日期", "day", False),
    ("餐次", "slot", False),
    ("状态", "status", False),
    ("原因", "reasons", False),
    ("补贴", "subsidy_fen", True),
)
_TOTALS_SHOWN = ("meals", "subsidised_meals", "elders", "elder_days", "price", "elder_subsidy", "elder_pays",
                 "operating_gross", "operating_cap_reduction", "operating", "construction", "adjustments", "payable",
                 "held_meals", "held_subsidy")  # fmt: skip


def _summary_sheet(wb: Workbook, s: Statement, *, canteen_code: str, canteen_name: str, state: str) -> None:
    """(label, key, value) per figure, ending with the content hash of the statement exported."""
    items: list[tuple[str, Any]] = [
        ("canteen_code", canteen_code),
        ("canteen_name", canteen_name),
        ("canteen_id", s.canteen_id),
        ("month", str(s.month)),
        ("state", state),
        ("programme", s.programme),
        *((k, getattr(s.totals, k)) for k in _TOTALS_SHOWN),
        ("format", s.format),
        ("statement_hash", statement_hash(s)),
    ]
    ws = _sheet(wb, "汇总", (("项目", "item", False), ("键", "key", False), ("值", "value", False)), [])
    for (zh, key, fen), (_, value) in zip(_columns(_LABELS, [k for k, _ in items]), items, strict=True):
        ws.append([zh, key, value])
        if fen:
            ws.cell(row=ws.max_row, column=3).number_format = YUAN_FORMAT


def statement_xlsx(s: Statement, *, canteen_code: str, canteen_name: str, state: str) -> bytes:
    """One canteen's month: summary, meal lines, operating subsidy by day, construction and adjustments, held
    meals."""
    wb = _new()
    _summary_sheet(wb, s, canteen_code=canteen_code, canteen_name=canteen_name, state=state)
    lines = (
        (x.day.isoformat(), SLOT_TEXT[x.slot][0], x.tier or "原价", x.meals, x.elders, x.price,
         x.elder_subsidy, x.elder_pays)
        for x in s.lines
    )  # fmt: skip
    _sheet(wb, "就餐补贴", _LINE_COLUMNS, lines)
    days = (
        (d.day.isoformat(), d.rule_version, BASIS_TEXT[d.basis], d.units, d.amount_each, d.gross, d.cap, d.paid)
        for d in s.operating
    )
    _sheet(wb, "运营补贴", _OPERATING_COLUMNS, days)
    rows: list[tuple[Any, ...]] = [("建设补贴", "", c.line_id, _text(c.note), 0, c.amount) for c in s.construction]
    rows += [
        (ADJUSTMENT_TEXT[a.kind], str(a.origin), a.line_id, _text(a.note), len(a.meal_ids), a.amount)
        for a in s.adjustments
    ]
    _sheet(wb, "建设与调整", _BUREAU_COLUMNS, rows)
    held = (
        (h.meal_id, str(h.origin), h.service_date.isoformat(), SLOT_TEXT[h.slot][0], HELD_TEXT[h.status],
         "、".join(FLAG_TEXT.get(f, (f, f))[0] for f in h.flags), h.subsidy)
        for h in s.held
    )  # fmt: skip
    _sheet(wb, "暂缓与不予支付", _HELD_COLUMNS, held)
    return workbook_bytes(wb)


PROGRAMME_XLSX_COLUMNS: tuple[Column, ...] = _columns(
    _LABELS,
    ("canteen_code", "canteen_name", "month", "state", "meals", "subsidised_meals", "elders", "elder_days", "price",
     "elder_subsidy", "elder_pays", "operating_gross", "operating", "construction", "adjustments", "payable",
     "held_meals", "held_subsidy", "statement_hash"),
)  # fmt: skip


def programme_xlsx(entries: Sequence[tuple[str, str, ProgrammeRow]]) -> bytes:
    """(canteen code, name, row) per canteen, sorted by code, and a total row (distinct elders do not add up
    across canteens: left empty there). The hash cell is empty for statements not closed."""
    wb = _new()
    rows: list[list[Any]] = []
    month = ""
    for code, name, r in sorted(entries, key=lambda e: e[0]):
        t = r.totals
        month = str(r.month)
        rows.append(
            [code, name, month, r.state, t.meals, t.subsidised_meals, t.elders, t.elder_days, t.price, t.elder_subsidy,
             t.elder_pays, t.operating_gross, t.operating, t.construction, t.adjustments, t.payable, t.held_meals,
             t.held_subsidy, r.statement_hash]
        )  # fmt: skip
    sums = programme_total(r for _c, _n, r in entries)
    rows.append(
        ["合计", "", month, "", sums["meals"], sums["subsidised_meals"], None, sums["elder_days"], sums["price"],
         sums["elder_subsidy"], sums["elder_pays"], sums["operating_gross"], sums["operating"], sums["construction"],
         sums["adjustments"], sums["payable"], sums["held_meals"], sums["held_subsidy"], None]
    )  # fmt: skip
    _sheet(wb, "全市汇总", PROGRAMME_XLSX_COLUMNS, rows)
    return workbook_bytes(wb)


_SUMMARY_KEYS = ("canteen_code", "canteen_name", "month", "state", "meals", "subsidised_meals", "elders", "elder_days",
                 "elder_subsidy_fen", "operating_fen", "construction_fen", "adjustments_fen", "payable_fen",
                 "held_meals", "statement_hash")  # fmt: skip
SUMMARY_XLSX_COLUMNS: tuple[Column, ...] = tuple(c for c in PROGRAMME_XLSX_COLUMNS if c[1] in _SUMMARY_KEYS)
"""The programme's columns the city-wide summary shows, in the same order."""


def summary_xlsx(rows: Sequence[dict[str, Any]]) -> bytes:
    """The city-wide summary: one row per canteen and month (the API's rows, in its order)."""
    wb = _new()
    keys = [k.removesuffix("_fen") for _, k, _ in SUMMARY_XLSX_COLUMNS]
    _sheet(wb, "全市月度汇总", SUMMARY_XLSX_COLUMNS, ([r[k] for k in keys] for r in rows))
    return workbook_bytes(wb)
