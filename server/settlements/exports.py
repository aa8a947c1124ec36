"""XLSX exports, reproducible byte for byte from the same data, and the statement an export is made of.

Amounts are written as **integer fen** (exact; what a finance script reads, the same numbers as the API's JSON)
with the number format ``0"."00``, so a spreadsheet shows them as yuan with two decimals (12345 shows as
123.45, the same text as the CSV and PDF exports) and sums of them are still exact: no float ever holds money.
Column keys in the second header row end in ``_fen`` to say so; Chinese headers say ``(元)``, what is shown.

A statement workbook opens on its cover sheet 汇总: the title, the title block (programme, canteen code and name,
month, state in Chinese, rule versions in force, content hash; :meth:`ruyi.export.StatementDoc.title_block`), the
totals, and the signature lines 制表人 / 审核人 / 批准人 with a date each. The other sheets are tables (Chinese and
English header rows, then one row per item, then a 合计 row); printed, each page repeats the header rows and
carries the canteen, month and state at the top and 第 N 页 / 共 M 页 and the content hash at the bottom.

Reproducible: the workbook's created/modified properties are fixed, and the zip is written again with every
entry's timestamp fixed (1980-01-01), in openpyxl's order, with the same compression. Nothing in the file depends
on the clock, the host or the user.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Border, Font, Side
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from sqlmodel import Session

from ruyi.export import (
    ADJUSTMENT_TEXT,
    BASIS_TEXT,
    HELD_TEXT,
    SIGNATURES,
    STATE_TEXT,
    ProgrammeDoc,
    StatementDoc,
    flags_text,
    programme_total,
    state_text,
)
from ruyi.rules import SLOT_TEXT
from server.settlements import service
from server.settlements.dependencies import Target
from server.settlements.views import sees_categories

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN_FORMAT = '0"."00'
FIXED_TIME = datetime(2000, 1, 1, tzinfo=UTC).replace(tzinfo=None)  # openpyxl takes naive UTC
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
XLSX_AMOUNTS = ("元，两位小数（单元格值为整数分，显示为元）", "fen")

Column = tuple[str, str, bool]
"""(Chinese header, English key, is an amount in fen)."""


def statement_doc(session: Session, it: Target) -> StatementDoc:
    """The statement an export of ``it`` is made of (stored if closed, computed now if open; masked for callers
    without ``categories.read``) with its rule book, canteen and state."""
    statement, facts = service.export_statement(session, actor=it.actor, row=it.row, ctx=it.ctx)
    return StatementDoc(
        statement=statement,
        facts=facts,
        book=it.ctx.book,
        canteen_code=it.canteen.code,
        canteen_name=it.canteen.name,
        state=it.row.state,
        masked=not sees_categories(it.actor),
        closed_at=it.row.closed_at if it.row.state == "closed" else None,
    )


# ---------------------------------------------------------------------------------------------------------------
# Workbook plumbing


def _sheet(
    wb: Workbook,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    total: Sequence[Any] | None = None,
) -> Worksheet:
    """A table: Chinese and English header rows, the rows, then the ``total`` row (bold) if given."""
    ws: Worksheet = wb.create_sheet(title)
    ws.append([zh for zh, _, _ in columns])
    ws.append([en for _, en, _ in columns])
    money = [i + 1 for i, (_, _, fen) in enumerate(columns) if fen]
    for row in [*rows, *([total] if total is not None else [])]:
        ws.append(list(row))
        r = ws.max_row
        for c in money:
            ws.cell(row=r, column=c).number_format = YUAN_FORMAT
    if total is not None:
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A3"
    ws.print_title_rows = "1:2"
    return ws


def _print_marks(ws: Worksheet, heading: str, digest: str) -> None:
    """What every printed page shows: whose and which month at the top; page N of M and the hash below."""
    header, footer = ws.oddHeader, ws.oddFooter
    assert header is not None and footer is not None  # openpyxl makes both with the sheet
    header.center.text = heading
    footer.center.text = f"第 &P 页 / 共 &N 页    内容哈希 {digest}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def _cover(
    wb: Workbook, title: str, block: Sequence[tuple[str, str, str, str]], figures: Sequence[tuple[str, str, int, bool]]
) -> Worksheet:
    """The cover sheet 汇总: the title, the title block and the figures as (项目, 键, 值, 代码) rows, then the
    signature lines (制表人 / 审核人 / 批准人, each with 日期)."""
    ws: Worksheet = wb.create_sheet("汇总")
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=16)
    ws.merge_cells("A1:E1")
    ws.append(["项目", "键", "值", "代码"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for label, text, key, code in block:
        ws.append([label, key, text, code])
    for label, key, value, fen in figures:
        ws.append([label, key, value])
        if fen:
            ws.cell(row=ws.max_row, column=3).number_format = YUAN_FORMAT
    ws.append([])
    line = Border(bottom=Side(style="thin"))
    for zh, key in SIGNATURES:
        ws.append([f"{zh}（签字）", key, None, "日期", None])
        ws.cell(row=ws.max_row, column=3).border = line
        ws.cell(row=ws.max_row, column=5).border = line
        ws.row_dimensions[ws.max_row].height = 30
    for letter, width in zip("ABCDE", (24, 26, 70, 22, 16), strict=True):
        ws.column_dimensions[letter].width = width
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    return ws


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


def _text(value: str) -> str:
    """People's free text, never a formula."""
    return "'" + value if value.startswith(("=", "+", "-", "@")) else value


# ---------------------------------------------------------------------------------------------------------------
# One canteen's month

TOTALS_SHOWN: tuple[tuple[str, str], ...] = (
    ("meals", "餐数"),
    ("subsidised_meals", "补贴餐数"),
    ("elders", "就餐老人数"),
    ("elder_days", "老人人天"),
    ("price", "餐费金额(元)"),
    ("elder_subsidy", "老人补贴(元)"),
    ("elder_pays", "个人自付(元)"),
    ("operating_gross", "运营补贴封顶前(元)"),
    ("operating_cap_reduction", "封顶扣减(元)"),
    ("operating", "运营补贴(元)"),
    ("construction", "建设补贴(元)"),
    ("adjustments", "调整金额(元)"),
    ("payable", "应付金额(元)"),
    ("held_meals", "暂缓餐数"),
    ("held_subsidy", "暂缓补贴(元)"),
)
"""The statement's totals as every export lists them (key, Chinese label); ``(元)`` marks amounts."""

LINE_COLUMNS: tuple[Column, ...] = (
    ("日期", "day", False),
    ("餐次", "slot", False),
    ("补贴档次", "tier", False),
    ("档次代码", "tier_code", False),
    ("规则版本", "rule_version", False),
    ("餐数", "meals", False),
    ("人数", "elders", False),
    ("餐费金额(元)", "price_fen", True),
    ("老人补贴(元)", "elder_subsidy_fen", True),
    ("个人自付(元)", "elder_pays_fen", True),
)
OPERATING_COLUMNS: tuple[Column, ...] = (
    ("日期", "day", False),
    ("规则版本", "rule_version", False),
    ("计算方式", "basis", False),
    ("数量", "units", False),
    ("单价(元)", "amount_each_fen", True),
    ("封顶前(元)", "gross_fen", True),
    ("月封顶(元)", "cap_fen", True),
    ("实付(元)", "paid_fen", True),
)
BUREAU_COLUMNS: tuple[Column, ...] = (
    ("类别", "kind", False),
    ("原属月份", "origin_month", False),
    ("编号", "line_id", False),
    ("说明", "note", False),
    ("餐数", "meals", False),
    ("金额(元)", "amount_fen", True),
)
HELD_COLUMNS: tuple[Column, ...] = (
    ("餐次编号", "meal_id", False),
    ("原属月份", "origin_month", False),
    ("日期", "day", False),
    ("餐次", "slot", False),
    ("状态", "status", False),
    ("原因", "reasons", False),
    ("原因代码", "flags", False),
    ("补贴(元)", "subsidy_fen", True),
)


def statement_figures(doc: StatementDoc) -> list[tuple[str, str, int, bool]]:
    """(Chinese label, key, value, is fen) of the statement's totals."""
    t = doc.statement.totals
    return [(zh, f"{k}_fen" if "元" in zh else k, getattr(t, k), "元" in zh) for k, zh in TOTALS_SHOWN]


def statement_xlsx(doc: StatementDoc) -> bytes:
    """One canteen's month: the cover (title block, totals, signature lines), meal lines, operating subsidy by
    day, construction and adjustments, held meals; each table with its 合计 row."""
    s = doc.statement
    wb = _new()
    _cover(wb, f"{doc.title}　{doc.canteen_name}　{s.month}", doc.title_block(XLSX_AMOUNTS), statement_figures(doc))
    lines = [
        (x.day.isoformat(), SLOT_TEXT[x.slot][0], doc.label(x), x.tier, doc.version_of(x.day), x.meals, x.elders,
         x.price, x.elder_subsidy, x.elder_pays)
        for x in s.lines
    ]  # fmt: skip
    sums = [
        sum(x.meals for x in s.lines),
        sum(x.price for x in s.lines),
        sum(x.elder_subsidy for x in s.lines),
        sum(x.elder_pays for x in s.lines),
    ]
    sheets = [_sheet(wb, "就餐补贴", LINE_COLUMNS, lines, ["合计", *[None] * 4, sums[0], None, *sums[1:]])]
    days = [
        (d.day.isoformat(), d.rule_version, BASIS_TEXT[d.basis], d.units, d.amount_each, d.gross, d.cap, d.paid)
        for d in s.operating
    ]
    total = ["合计", *[None] * 4, sum(d.gross for d in s.operating), None, sum(d.paid for d in s.operating)]
    sheets.append(_sheet(wb, "运营补贴", OPERATING_COLUMNS, days, total))
    rows: list[tuple[Any, ...]] = [("建设补贴", "", c.line_id, _text(c.note), 0, c.amount) for c in s.construction]
    rows += [
        (ADJUSTMENT_TEXT[a.kind], str(a.origin), a.line_id, _text(a.note), len(a.meal_ids), a.amount)
        for a in s.adjustments
    ]
    total = ["合计", None, None, None, sum(r[4] for r in rows), sum(r[5] for r in rows)]
    sheets.append(_sheet(wb, "建设与调整", BUREAU_COLUMNS, rows, total))
    held = [
        (h.meal_id, str(h.origin), h.service_date.isoformat(), SLOT_TEXT[h.slot][0], HELD_TEXT[h.status],
         flags_text(h, doc), ";".join(h.flags), h.subsidy)
        for h in s.held
    ]  # fmt: skip
    total = ["合计", f"{len(held)} 份", *[None] * 5, sum(h.subsidy for h in s.held)]
    sheets.append(_sheet(wb, "暂缓与不予支付", HELD_COLUMNS, held, total))
    heading = f"{doc.canteen_code} {doc.canteen_name}　{s.month}　{doc.title}（{state_text(doc.state)}）"
    for ws in sheets:
        _print_marks(ws, heading, doc.hash)
    return workbook_bytes(wb)


# ---------------------------------------------------------------------------------------------------------------
# The whole programme's month, and the city-wide summary

_LABELS = {
    "programme": "补贴项目",
    "canteen_code": "食堂编号",
    "canteen_name": "食堂名称",
    "month": "月份",
    "state": "状态",
    "state_code": "状态代码",
    "statement_hash": "内容哈希",
    "canteen_id": "食堂ID",
} | {k: zh for k, zh in TOTALS_SHOWN}
_AMOUNTS = frozenset(k for k, zh in TOTALS_SHOWN if "元" in zh)


def _columns(keys: Sequence[str]) -> tuple[Column, ...]:
    """Columns by key; amounts (in fen here) get the ``_fen`` key."""
    return tuple((_LABELS[k], f"{k}_fen" if k in _AMOUNTS else k, k in _AMOUNTS) for k in keys)


PROGRAMME_FIGURES = ("meals", "subsidised_meals", "elders", "elder_days", "price", "elder_subsidy", "elder_pays",
                     "operating_gross", "operating", "construction", "adjustments", "payable", "held_meals",
                     "held_subsidy")  # fmt: skip
PROGRAMME_XLSX_COLUMNS: tuple[Column, ...] = _columns(
    ("programme", "canteen_code", "canteen_name", "month", "state", "state_code", *PROGRAMME_FIGURES,
     "statement_hash", "canteen_id")
)  # fmt: skip


def programme_xlsx(doc: ProgrammeDoc) -> bytes:
    """The cover (title block, the programme's totals, signature lines), then 全市汇总: one row per canteen
    (code and name, sorted by code) and a total row (distinct elders do not add up across canteens: left empty
    there). The hash cell is empty for statements not closed."""
    wb = _new()
    sums = programme_total(doc.rows)
    figures = [(_LABELS[k], f"{k}_fen" if k in _AMOUNTS else k, v, k in _AMOUNTS) for k, v in sums.items()]
    block = doc.title_block(XLSX_AMOUNTS)
    _cover(wb, f"助餐补贴月度汇总　{doc.month}", block, figures)
    rows = [
        [doc.programme_name(r.programme), r.canteen_code, r.canteen_name, str(r.month), state_text(r.state), r.state,
         *(getattr(r.totals, k) for k in PROGRAMME_FIGURES), r.statement_hash, r.canteen_id]
        for r in doc.rows
    ]  # fmt: skip
    total = [None, "合计", f"{len(rows)} 个食堂", str(doc.month), None, None,
             *(sums.get(k) for k in PROGRAMME_FIGURES), None, None]  # fmt: skip
    ws = _sheet(wb, "全市汇总", PROGRAMME_XLSX_COLUMNS, rows, total)
    _print_marks(ws, f"助餐补贴月度汇总　{doc.month}", doc.content_hash)
    return workbook_bytes(wb)


_SUMMARY_KEYS = ("canteen_code", "canteen_name", "month", "state", "state_code", "meals", "subsidised_meals",
                 "elders", "elder_days", "elder_subsidy_fen", "operating_fen", "construction_fen", "adjustments_fen",
                 "payable_fen", "held_meals", "statement_hash")  # fmt: skip
SUMMARY_XLSX_COLUMNS: tuple[Column, ...] = tuple(c for c in PROGRAMME_XLSX_COLUMNS if c[1] in _SUMMARY_KEYS)
"""The programme's columns the city-wide summary shows, in the same order."""


def summary_xlsx(rows: Sequence[dict[str, Any]]) -> bytes:
    """The city-wide summary: one row per canteen and month (the API's rows, in its order), the state in Chinese
    with its code beside it."""
    wb = _new()
    keys = [k.removesuffix("_fen") for _, k, _ in SUMMARY_XLSX_COLUMNS]

    def cells(r: dict[str, Any]) -> list[Any]:
        values = r | {"state": STATE_TEXT.get(r["state"], (r["state"],))[0], "state_code": r["state"]}
        return [values[k] for k in keys]

    _sheet(wb, "全市月度汇总", SUMMARY_XLSX_COLUMNS, map(cells, rows))
    return workbook_bytes(wb)
