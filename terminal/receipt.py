"""Receipt layouts in Chinese (the printer fits them to 58 or 80 mm paper): sales, void slips, reprints, Z-report.

One layout for both papers (32 and 48 columns), and no field can overflow either: the printer wraps every line and
applies these rules (:mod:`terminal.devices.printing`): the canteen name is double size when it fits one
double-size line, else normal size, at most 2 lines; a menu item's name at most 2 lines, a void's reason at most 3,
the cashier 1 line (shortened with "…"); the masked name, the receipt number and any amount wrap rather than
overflow.
The receipt number is the terminal's short code from the server plus the sequence (``RY01-2-000042``); the
terminal id (a UUID) and the meal id stay in the record and the QR code.

A receipt shows the masked name only: never an ID number, a category or a category tier's label (the tiers are
not printed at all). Its QR code carries the meal id of the sale (or of the void, on a void slip), so a receipt
can always be traced to exactly one ledger record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ruyi.meal import MealRecord, PaymentMethod
from ruyi.money import format_yuan
from ruyi.reasons import Reason, reason_text
from ruyi.rules import SLOT_TEXT
from terminal.devices.printing import (
    Align,
    Block,
    Cut,
    Feed,
    QrCode,
    ReceiptDocument,
    Separator,
    TextLine,
    TwoColumnLine,
)
from terminal.ledger import ZReport

PAYMENT_TEXT: dict[PaymentMethod, tuple[str, str]] = {
    "cash": ("现金", "Cash"),
    "wechat": ("微信", "WeChat"),
    "alipay": ("支付宝", "Alipay"),
    "other": ("其他", "Other"),
}
"""The payment methods' words (zh, en), on receipts and on the screens."""


@dataclass(frozen=True, slots=True)
class ReceiptContext:
    """What a receipt needs besides the record: where it is printed and the words for the ids."""

    canteen_name: str
    zone: ZoneInfo
    terminal_code: str
    """The terminal's short code (``RY01-2``): the first part of every receipt number."""
    masked_name: str | None = None
    """The elder's masked name (张*明), None for a walk-in or an elder no longer in the snapshot."""
    item_name: str | None = None
    cashier_names: Mapping[str, str] = field(default_factory=dict)
    """Cashier id -> the words printed for them (personal number and short name); unknown ids print as is."""


def _cashier(record: MealRecord, ctx: ReceiptContext) -> str:
    return ctx.cashier_names.get(record.cashier, record.cashier)


def receipt_number(record: MealRecord, terminal_code: str) -> str:
    """The number printed on a receipt: the terminal's short code and the record's sequence number."""
    return f"{terminal_code}-{record.seq:06d}"


def fallback_terminal_code(terminal_id: str) -> str:
    """The short code of a terminal the server gave none (registered before codes existed): the id's first
    8 characters, upper case. The bureau can still find the terminal: the QR code carries the meal id."""
    return terminal_id.replace("-", "")[:8].upper()


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _canteen(name: str) -> TextLine:
    return TextLine(name, align=Align.CENTER, bold=True, double=True, shrink=True, max_lines=2)


def _header(ctx: ReceiptContext, title: str) -> list[Block]:
    return [
        _canteen(ctx.canteen_name),
        TextLine(title, align=Align.CENTER, bold=True),
        Separator(),
    ]


def _sale_lines(sale: MealRecord, ctx: ReceiptContext) -> list[Block]:
    q = sale.quote
    who = ctx.masked_name if sale.identified_by != "walk_in" and ctx.masked_name else None
    lines: list[Block] = [
        TwoColumnLine("就餐人", who or ("散客" if sale.identified_by == "walk_in" else "已登记人员")),
        TwoColumnLine("餐次", SLOT_TEXT[sale.slot][0]),
        TwoColumnLine(ctx.item_name or sale.menu_item_id, format_yuan(q.price), max_label_lines=2),
        TwoColumnLine("助餐补贴", format_yuan(-q.subsidy) if q.subsidy else format_yuan(0)),
        TwoColumnLine(f"实付（{PAYMENT_TEXT[sale.payment_method][0]}）", format_yuan(q.elder_pays), bold=True),
    ]
    if not q.subsidised and q.reasons:
        lines.append(TextLine(reason_text(q.reasons[0])))
    elif Reason.FREE_MEAL in q.reasons:
        lines.append(TextLine(reason_text(Reason.FREE_MEAL)))
    if sale.identified_by == "manual":
        lines.append(TextLine("身份确认：人工查找"))
    return lines


def sale_receipt(sale: MealRecord, ctx: ReceiptContext, *, reprint: MealRecord | None = None) -> ReceiptDocument:
    """The receipt of a sale; with ``reprint`` (the reprint record) it is marked 重打 with the reprint time."""
    if sale.kind != "sale":
        raise ValueError("sale_receipt takes a sale record")
    blocks: list[Block] = _header(ctx, "助餐小票（重打）" if reprint else "助餐小票")
    blocks += [
        TwoColumnLine("小票号", receipt_number(sale, ctx.terminal_code)),
        TwoColumnLine("时间", _when(sale.service_time, ctx.zone)),
    ]
    if reprint is not None:
        blocks.append(TwoColumnLine("重打时间", _when(reprint.service_time, ctx.zone)))
    blocks.append(Separator())
    blocks += _sale_lines(sale, ctx)
    blocks += [
        Separator(),
        QrCode(str(sale.meal_id)),
        TextLine(f"收银员 {_cashier(sale, ctx)}", align=Align.CENTER, max_lines=1),
    ]
    if reprint is not None:
        blocks.append(TextLine("*** 重打 ***", align=Align.CENTER, bold=True))
    blocks += [Feed(2), Cut()]
    return ReceiptDocument(tuple(blocks))


def void_slip(void: MealRecord, original: MealRecord, ctx: ReceiptContext, *, reprint: bool = False) -> ReceiptDocument:
    """The slip printed when a sale is voided: 作废, pointing at the original receipt number."""
    if void.kind != "void" or void.refers_to != original.meal_id:
        raise ValueError("void_slip takes a void record and the sale it voids")
    q = original.quote
    blocks: list[Block] = _header(ctx, "作废单（重打）" if reprint else "作废单")
    blocks += [
        TextLine("*** 作废 ***", align=Align.CENTER, bold=True, double=True),
        TwoColumnLine("作废单号", receipt_number(void, ctx.terminal_code)),
        TwoColumnLine("原小票号", receipt_number(original, ctx.terminal_code)),
        TwoColumnLine("原消费时间", _when(original.service_time, ctx.zone)),
        TwoColumnLine("作废时间", _when(void.service_time, ctx.zone)),
        Separator(),
        TwoColumnLine(ctx.item_name or original.menu_item_id, format_yuan(q.price), max_label_lines=2),
        TwoColumnLine("冲销补贴", format_yuan(q.subsidy)),
        TwoColumnLine(f"退还（{PAYMENT_TEXT[original.payment_method][0]}）", format_yuan(q.elder_pays), bold=True),
        TextLine(f"原因：{void.reason or ''}", max_lines=3),
        Separator(),
        QrCode(str(void.meal_id)),
        TextLine(f"收银员 {_cashier(void, ctx)}", align=Align.CENTER, max_lines=1),
        Feed(2),
        Cut(),
    ]
    return ReceiptDocument(tuple(blocks))


def z_report_document(
    report: ZReport,
    *,
    canteen_name: str,
    zone: ZoneInfo,
    terminal_code: str,
    cashier_names: Mapping[str, str] | None = None,
) -> ReceiptDocument:
    """The end-of-day Z-report: counts and sums in fen rendered as yuan, net of voids."""
    pays = report.elder_pays_by_method
    blocks: list[Block] = [
        _canteen(canteen_name),
        TextLine("日结报表（Z）", align=Align.CENTER, bold=True),
        Separator(),
        TwoColumnLine("终端", terminal_code),
        TwoColumnLine("营业日", report.day.isoformat()),
        TwoColumnLine("生成时间", _when(report.made_at, zone)),
        Separator(),
        TwoColumnLine("有效餐数", str(report.meals)),
        TwoColumnLine("其中补贴餐", str(report.subsidised_meals)),
        TwoColumnLine("散客", str(report.walk_ins)),
        TwoColumnLine("人工查找", str(report.manual_entries)),
        TwoColumnLine("作废笔数", str(report.voids)),
        TwoColumnLine("重打笔数", str(report.reprints)),
        Separator(),
        TwoColumnLine("餐费合计", format_yuan(report.price_total)),
        TwoColumnLine("补贴合计", format_yuan(report.subsidy_total)),
        TwoColumnLine("实收合计", format_yuan(report.elder_pays_total), bold=True),
    ]
    blocks += [TwoColumnLine(f"  {zh}", format_yuan(pays.get(m, 0))) for m, (zh, _en) in PAYMENT_TEXT.items()]
    blocks += [
        TwoColumnLine("运营补贴", format_yuan(report.operating_subsidy_total)),
        TwoColumnLine("作废金额", format_yuan(report.voided_price_total)),
    ]
    names = cashier_names or {}
    for cashier_id, fig in sorted(report.by_cashier.items(), key=lambda kv: names.get(kv[0], kv[0])):
        blocks += [
            Separator(),
            TextLine(f"收银员 {names.get(cashier_id, cashier_id)}", max_lines=1),
            TwoColumnLine("  餐次", str(fig.meals)),
            TwoColumnLine("  人工", str(fig.manual_entries)),
            TwoColumnLine("  作废", str(fig.voids)),
            TwoColumnLine("  收款", format_yuan(fig.elder_pays_total)),
        ]
    blocks += [
        Separator(),
        TwoColumnLine("流水号", f"{report.first_seq or '-'} ~ {report.last_seq or '-'}"),
        TextLine(f"链头 {report.chain_head[:16] if report.chain_head else '-'}"),
        Feed(2),
        Cut(),
    ]
    return ReceiptDocument(tuple(blocks))
