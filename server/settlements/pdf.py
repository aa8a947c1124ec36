"""The printable statement of one canteen's month as PDF (fpdf2), fit to sign.

A4 portrait: the title and title block (programme, canteen code and name, month, state in Chinese, rule versions
in force, content hash), the totals, the meal lines, the operating subsidy per day, construction and adjustments,
held and rejected meals (each table with its 合计 row; headings repeat on every page), and the signature lines
制表人 / 审核人 / 批准人 with a date each. Every page says whose statement it is at the top and 第 N 页 / 共 M 页
with the content hash at the bottom. Amounts are yuan with two decimals, the same text as the CSV.

The Chinese font (WenQuanYi Zen Hei, Debian ``fonts-wqy-zenhei``, face 0 of its .ttc) is embedded as a subset.

Reproducible: the document's creation date is the statement's close time (an open statement: midnight at the
start of the month after, in the programme's time zone), the producer is fixed, and fpdf2 derives the file
identifier from the content; so the same data gives the same bytes (for one fpdf2 version).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path

from fpdf import FPDF

from ruyi.export import (
    ADJUSTMENT_TEXT,
    BASIS_TEXT,
    SIGNATURES,
    StatementDoc,
    month_text,
    reasons_text,
    state_text,
)
from ruyi.money import Fen, format_yuan
from ruyi.rules import SLOT_TEXT
from server.errors import ServerError
from server.settlements.exports import TOTALS_SHOWN

PDF_TYPE = "application/pdf"
FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""Debian's fonts-wqy-zenhei (scripts/system-packages.txt)."""
FONT = "wqy"
PDF_AMOUNTS = ("元，两位小数", "yuan")
Shade = tuple[int, int, int]
HEAD: Shade = (225, 225, 225)
TOTAL: Shade = (242, 242, 242)
ROW_HEIGHT = 5.5
TABLE_SIZE = 8.0
MIN_SIZE = 5.0

logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # it reports each table it drops from the subset


class FontMissing(ServerError):
    status, code = 500, "settlement.pdf_font"


def created_at(doc: StatementDoc) -> datetime:
    """The PDF's creation date, from the statement alone: its close time, or (open) the start of the next month."""
    if doc.closed_at is not None:
        at = doc.closed_at
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    first = doc.statement.month.next().first_day
    return datetime.combine(first, time(0), tzinfo=doc.book.zone)


def _y(fen: Fen) -> str:
    return format_yuan(fen, symbol=False)


class _Pages(FPDF):
    """Pages that carry whose statement it is at the top, and page N of M with the content hash at the bottom."""

    def __init__(self, doc: StatementDoc) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc = doc
        if not FONT_FILE.is_file():
            raise FontMissing(
                f"生成 PDF 需要中文字体 {FONT_FILE}（Debian 软件包 fonts-wqy-zenhei）",
                f"the PDF needs the Chinese font {FONT_FILE} (Debian package fonts-wqy-zenhei)",
            )
        self.add_font(FONT, "", str(FONT_FILE), collection_font_number=0)
        self.set_font(FONT, size=9)
        self.set_margins(15, 18, 15)
        self.set_auto_page_break(True, margin=18)
        self.alias_nb_pages("{nb}")
        self.set_creation_date(created_at(doc))
        self.set_producer("ruyi")
        self.set_creator("ruyi")
        self.set_lang("zh-CN")
        self.set_title(f"{doc.title} {doc.canteen_code} {doc.statement.month}")
        self.set_subject(f"{doc.canteen_name} {month_text(doc.statement.month)} {state_text(doc.state)}")
        self.set_keywords(doc.hash)

    def header(self) -> None:
        d = self.doc
        self.set_font(FONT, size=8)
        self.set_y(8)
        text = f"{d.title}　{d.canteen_code} {d.canteen_name}　{d.statement.month}　{state_text(d.state)}"
        self.cell(0, 5, text, align="C")
        self.set_y(18)
        self.set_font(FONT, size=9)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, size=7)
        self.cell(0, 4, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 4, f"内容哈希 {self.doc.hash}", align="C")

    def heading(self, text: str) -> None:
        """A section's heading, kept on one page with the start of its table."""
        if self.will_page_break(10 + 3 * ROW_HEIGHT):
            self.add_page()
        self.ln(3)
        self.set_font(FONT, size=11)
        self.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, size=8)

    def grid(
        self,
        head: Sequence[str],
        widths: Sequence[int],
        rows: Sequence[Sequence[str]],
        total: Sequence[str] | None,
        figures_from: int,
    ) -> None:
        """A table whose headings repeat on each page, then its 合计 row (shaded); the columns from
        ``figures_from`` on hold figures (right-aligned). Drawn cell by cell (one line each: text too wide for
        its column is set smaller), which is many times faster than fpdf2's wrapping tables."""
        if not rows:
            self.cell(0, 6, "（无）", new_x="LMARGIN", new_y="NEXT")
            return
        align = ["R" if i >= figures_from else "L" for i in range(len(head))]
        self._row(head, widths, ["C"] * len(head), fill=HEAD)
        for r in [*rows, *([total] if total is not None else [])]:
            if self.will_page_break(ROW_HEIGHT):
                self.add_page()
                self._row(head, widths, ["C"] * len(head), fill=HEAD)
            self._row(r, widths, align, fill=TOTAL if r is total else None)

    def _row(self, cells: Sequence[str], widths: Sequence[int], align: Sequence[str], fill: Shade | None) -> None:
        if fill is not None:
            self.set_fill_color(*fill)
        for text, width, a in zip(cells, widths, align, strict=True):
            size = TABLE_SIZE
            while size > MIN_SIZE and self.get_string_width(text) > width - 2:
                size -= 0.5
                self.set_font_size(size)
            self.cell(width, ROW_HEIGHT, text, border=1, align=a, fill=fill is not None)
            if size != TABLE_SIZE:
                self.set_font_size(TABLE_SIZE)
        self.ln(ROW_HEIGHT)


def statement_pdf(doc: StatementDoc) -> bytes:
    """The printable statement (see the module's docstring)."""
    pdf = _Pages(doc)
    pdf.add_page()
    pdf.set_font(FONT, size=16)
    pdf.cell(0, 10, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=11)
    sub = f"{doc.canteen_code} {doc.canteen_name}　{month_text(doc.statement.month)}"
    pdf.cell(0, 7, sub, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    block = [(label, text) for label, text, _key, _code in doc.title_block(PDF_AMOUNTS)]
    pdf.grid(("项目", "内容"), (40, 140), block, None, 2)
    t = doc.statement.totals
    pdf.heading("一、汇总")
    figures = [(zh, _y(getattr(t, k)) if "元" in zh else str(getattr(t, k))) for k, zh in TOTALS_SHOWN]
    pdf.grid(("项目", "金额或数量"), (60, 40), figures, None, 1)
    _lines(pdf, doc)
    _operating(pdf, doc)
    _bureau(pdf, doc)
    _held(pdf, doc)
    _signatures(pdf)
    return bytes(pdf.output())


def _lines(pdf: _Pages, doc: StatementDoc) -> None:
    pdf.heading("二、就餐补贴明细")
    lines = doc.statement.lines
    rows = [
        (x.day.isoformat(), SLOT_TEXT[x.slot][0], doc.label(x), doc.version_of(x.day), str(x.meals), str(x.elders),
         _y(x.price), _y(x.elder_subsidy), _y(x.elder_pays))
        for x in lines
    ]  # fmt: skip
    total = ("合计", "", "", "", str(sum(x.meals for x in lines)), "", _y(sum(x.price for x in lines)),
             _y(sum(x.elder_subsidy for x in lines)), _y(sum(x.elder_pays for x in lines)))  # fmt: skip
    head = ("日期", "餐次", "补贴档次", "规则版本", "餐数", "人数", "餐费(元)", "老人补贴(元)", "个人自付(元)")
    pdf.grid(head, (20, 11, 52, 16, 11, 11, 19, 21, 19), rows, total, 4)


def _operating(pdf: _Pages, doc: StatementDoc) -> None:
    pdf.heading("三、运营补贴（按日）")
    days = doc.statement.operating
    rows = [
        (d.day.isoformat(), d.rule_version, BASIS_TEXT[d.basis], str(d.units), _y(d.amount_each), _y(d.gross),
         "" if d.cap is None else _y(d.cap), _y(d.paid))
        for d in days
    ]  # fmt: skip
    total = ("合计", "", "", "", "", _y(sum(d.gross for d in days)), "", _y(sum(d.paid for d in days)))
    head = ("日期", "规则版本", "计算方式", "数量", "单价(元)", "封顶前(元)", "月封顶(元)", "实付(元)")
    pdf.grid(head, (22, 20, 22, 16, 22, 26, 26, 26), rows, total, 3)


def _bureau(pdf: _Pages, doc: StatementDoc) -> None:
    pdf.heading("四、建设补贴与调整")
    s = doc.statement
    rows = [("建设补贴", "", c.line_id, c.note, "", _y(c.amount)) for c in s.construction]
    rows += [
        (ADJUSTMENT_TEXT[a.kind], str(a.origin), a.line_id, a.note, str(len(a.meal_ids)), _y(a.amount))
        for a in s.adjustments
    ]
    amount = sum(c.amount for c in s.construction) + sum(a.amount for a in s.adjustments)
    total = ("合计", "", "", "", str(sum(len(a.meal_ids) for a in s.adjustments)), _y(amount))
    pdf.grid(("类别", "原属月份", "编号", "说明", "餐数", "金额(元)"), (30, 20, 20, 68, 14, 28), rows, total, 4)


def _held(pdf: _Pages, doc: StatementDoc) -> None:
    """The held and rejected meals; the registry fact behind an ``eligibility_changed`` hold is too long for the
    row, so the row points to a numbered note under the table (one per distinct fact)."""
    pdf.heading("五、暂缓与不予支付餐次")
    held = doc.statement.held
    notes: dict[str, int] = {}
    rows = []
    for h in held:
        fact = doc.facts.get(h.meal_id)
        if fact is None:
            reason = reasons_text(h, doc)
        else:
            n = notes.setdefault(fact[0], len(notes) + 1)
            reason = f"{reasons_text(h)}（注{n}）"
        rows.append((h.meal_id, str(h.origin), h.service_date.isoformat(), SLOT_TEXT[h.slot][0], reason, _y(h.subsidy)))
    total = ("合计", "", "", "", f"{len(held)} 份", _y(sum(h.subsidy for h in held)))
    pdf.grid(
        ("餐次编号", "原属月份", "日期", "餐次", "状态与原因", "补贴(元)"), (48, 18, 22, 12, 58, 22), rows, total, 5
    )
    for text, n in notes.items():
        pdf.multi_cell(0, ROW_HEIGHT, f"注{n}：{text}", new_x="LMARGIN", new_y="NEXT")


def _signatures(pdf: _Pages) -> None:
    """制表人 / 审核人 / 批准人, each with a line to sign on and a date; kept together on one page."""
    if pdf.will_page_break(45):
        pdf.add_page()
    pdf.heading("签字")
    pdf.set_font(FONT, size=11)
    for zh, _key in SIGNATURES:
        pdf.ln(6)
        pdf.cell(22, 8, f"{zh}：")
        pdf.cell(70, 8, "", border="B")
        pdf.cell(10, 8, "")
        pdf.cell(14, 8, "日期：")
        pdf.cell(40, 8, "", border="B", new_x="LMARGIN", new_y="NEXT")
