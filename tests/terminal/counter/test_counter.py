"""The counter flow end to end: real ledger, real ESC/POS printer to a loopback TCP printer, receipts decoded."""

from __future__ import annotations

from datetime import timedelta

from ruyi.reasons import Reason
from terminal.counter import ConfirmResult, Counter, CounterMessage, Sale
from terminal.devices.cards import (
    CardError,
    CardErrorCode,
    CardKey,
    CardKind,
    CardTapped,
    ReaderState,
    ReaderStatus,
    card_key_digest,
)
from terminal.devices.printing import PrinterErrorCode
from terminal.ledger import Ledger
from terminal.virtual.escpos_decode import Receipt
from terminal.virtual.printer import LoopbackPrinter, PrinterState
from tests.terminal.counter.conftest import printed
from tests.terminal.counter.world import (
    CARD_SECRET,
    DAY,
    DIBAO,
    OLD,
    REVOKED,
    UNKNOWN_UID,
    YOUNG,
    Clock,
    Person,
)


def tap(counter: Counter, person: Person | None = None, *, uid: str | None = None) -> Sale | CounterMessage:
    serial = uid if uid is not None else (person.uid if person else None)
    assert serial is not None
    return counter.on_card(CardKey(CardKind.UID, card_key_digest(CARD_SECRET, "uid", serial)))


def open_sale(counter: Counter, person: Person) -> Sale:
    sale = tap(counter, person)
    assert isinstance(sale, Sale), sale
    return sale


def text_of(receipt: Receipt) -> str:
    return "\n".join(receipt.texts)


def confirm_ok(counter: Counter, sale: Sale, method: str = "cash") -> ConfirmResult:
    result = counter.confirm(sale, method, "c01")  # type: ignore[arg-type]
    assert result.committed and result.record is not None, result.message
    return result


def test_subsidised_elder_tap_confirm_print(counter: Counter, ledger: Ledger, loopback: LoopbackPrinter) -> None:
    sale = open_sale(counter, OLD)
    assert sale.masked_name == "张*丰"
    assert sale.item.id == "set-a"  # the first lunch item at noon
    assert (sale.quote.price, sale.quote.subsidy, sale.quote.elder_pays) == (1100, 800, 300)
    assert "应付 ¥3.00" in sale.text()

    result = confirm_ok(counter, sale, "wechat")
    assert result.printed and result.print_error is None
    record = result.record
    assert record is not None and record.seq == 1 and record.identified_by == "card" and record.card_kind == "uid"
    assert ledger.get(record.meal_id) == record
    assert counter.reprint_queue() == []

    (receipt,) = printed(loopback)
    text = text_of(receipt)
    assert "如意食堂鼓楼店" in text and "助餐小票" in text
    assert receipt.line("小票号").text.endswith("T01-000001")
    assert "2025-06-10 12:00:00" in receipt.line("时间").text
    assert receipt.line("就餐人").text.endswith("张*丰")
    assert receipt.line("红烧肉套餐").text.endswith("￥11.00")
    assert receipt.line("助餐补贴").text.endswith("-￥8.00")
    assert receipt.line("实付（微信）").text.endswith("￥3.00")
    assert [q.data for q in receipt.qr_codes] == [str(record.meal_id)]
    assert receipt.cuts


def test_social_security_card_of_the_same_elder(counter: Counter) -> None:
    assert OLD.ssc is not None
    sale = counter.on_card(CardKey(CardKind.SOCIAL_SECURITY, card_key_digest(CARD_SECRET, "social_security", OLD.ssc)))
    assert isinstance(sale, Sale) and sale.card_kind == "social_security" and sale.quote.subsidy == 800


def test_full_price_with_reason_and_choose_item(counter: Counter, loopback: LoopbackPrinter) -> None:
    sale = open_sale(counter, YOUNG)
    sale2 = counter.choose_item(sale, "set-b")
    assert isinstance(sale2, Sale)
    assert (sale2.quote.price, sale2.quote.subsidy, sale2.quote.elder_pays) == (1300, 0, 1300)
    assert sale2.quote.reasons[0] is Reason.UNDER_AGE
    assert isinstance(counter.choose_item(sale, "old"), CounterMessage)  # no longer on the menu
    assert isinstance(counter.choose_item(sale, "nope"), CounterMessage)
    confirm_ok(counter, sale2)
    (receipt,) = printed(loopback)
    assert receipt.line("实付（现金）").text.endswith("￥13.00")
    assert "未满补贴年龄，按原价" in receipt.texts


def test_walk_in(counter: Counter, loopback: LoopbackPrinter) -> None:
    sale = counter.walk_in()
    assert isinstance(sale, Sale) and sale.elder is None
    assert sale.quote.reasons == (Reason.WALK_IN,) and sale.quote.elder_pays == 1100
    result = confirm_ok(counter, sale, "alipay")
    assert result.record is not None and result.record.identified_by == "walk_in" and result.record.elder_id is None
    (receipt,) = printed(loopback)
    assert receipt.line("就餐人").text.endswith("散客")
    assert receipt.line("实付（支付宝）").text.endswith("￥11.00")


def test_manual_lookup_needs_a_reason_and_is_marked(counter: Counter, loopback: LoopbackPrinter) -> None:
    found = counter.find_elders(OLD.id_number[-4:], "张")
    assert [e.elder_id for e in found] == [OLD.elder_id]
    assert counter.find_elders(OLD.id_number[-4:], "李") == []
    assert counter.find_elders("0000", "") == []

    refused = counter.manual_lookup(OLD.elder_id, "  ")
    assert isinstance(refused, CounterMessage) and refused.code == "manual.reason"
    refused = counter.manual_lookup(OLD.elder_id, f"身份证 {OLD.id_number}")
    assert isinstance(refused, CounterMessage) and refused.code == "manual.reason"
    assert isinstance(counter.manual_lookup("e-9999", "忘带卡"), CounterMessage)

    sale = counter.manual_lookup(OLD.elder_id, "忘带卡")
    assert isinstance(sale, Sale) and sale.quote.subsidy == 800
    result = confirm_ok(counter, sale)
    assert result.record is not None
    assert result.record.identified_by == "manual" and result.record.manual_reason == "忘带卡"
    assert result.record.card_kind is None
    (receipt,) = printed(loopback)
    assert "身份确认：人工查找" in receipt.texts


def test_revoked_card_sells_at_full_price(counter: Counter) -> None:
    sale = open_sale(counter, REVOKED)
    assert sale.quote.reasons == (Reason.CARD_REVOKED,) and sale.quote.subsidy == 0
    result = confirm_ok(counter, sale)
    assert result.record is not None and result.record.quote.reasons == (Reason.CARD_REVOKED,)


def test_unknown_card_and_reader_events(counter: Counter) -> None:
    message = tap(counter, uid=UNKNOWN_UID)
    assert isinstance(message, CounterMessage) and message.code == "card.unknown"
    assert "未登记" in message.message() and "not registered" in message.message("en")
    out = counter.on_reader_event(CardError(CardErrorCode.CARD_REMOVED))
    assert isinstance(out, CounterMessage) and out.message() == "卡片离开太快，请重新刷卡"
    assert counter.on_reader_event(ReaderStatus(ReaderState.CONNECTED, "vpcd")) is None
    assert counter.status(query_printer=False).reader == ReaderStatus(ReaderState.CONNECTED, "vpcd")
    key = CardKey(CardKind.UID, card_key_digest(CARD_SECRET, "uid", OLD.uid or ""))
    assert isinstance(counter.on_reader_event(CardTapped(key)), Sale)


def test_daily_limit_from_the_ledger(counter: Counter, clock: Clock) -> None:
    confirm_ok(counter, open_sale(counter, DIBAO))
    clock.advance(minutes=5)
    second = open_sale(counter, DIBAO)
    assert second.quote.reasons[0] is Reason.DAILY_LIMIT_REACHED and second.quote.subsidy == 0
    assert second.quote.subsidised_today == 1


def test_two_open_sales_cannot_both_take_the_subsidy(counter: Counter) -> None:
    first, second = open_sale(counter, OLD), open_sale(counter, OLD)
    confirm_ok(counter, first)
    again = counter.confirm(second, "cash")
    assert not again.committed and again.message.code == "sale.requoted"
    assert again.sale is not None and again.sale.quote.reasons[0] is Reason.DAILY_LIMIT_REACHED
    assert confirm_ok(counter, again.sale).record is not None


def test_void_prints_a_slip_and_frees_the_limit(counter: Counter, loopback: LoopbackPrinter, clock: Clock) -> None:
    sale_result = confirm_ok(counter, open_sale(counter, OLD))
    assert sale_result.record is not None
    clock.advance(minutes=2)
    voided = counter.void(sale_result.record.meal_id, "点错菜品", "c02")
    assert voided.record is not None and voided.printed
    assert voided.record.refers_to == sale_result.record.meal_id
    again = counter.void(sale_result.record.meal_id, "再次", "c02")
    assert again.record is None and again.message.code == "void.twice"

    _, slip = printed(loopback)
    text = text_of(slip)
    assert "作废" in text and "原因：点错菜品" in text
    assert slip.line("原小票号").text.endswith("T01-000001")
    assert slip.line("作废单号").text.endswith("T01-000002")
    assert [q.data for q in slip.qr_codes] == [str(voided.record.meal_id)]
    # The voided meal no longer counts against the daily limit.
    assert open_sale(counter, OLD).quote.subsidy == 800


def test_void_of_yesterday_is_refused(counter: Counter, clock: Clock) -> None:
    result = confirm_ok(counter, open_sale(counter, OLD))
    assert result.record is not None
    clock.advance(days=1)
    refused = counter.void(result.record.meal_id, "太晚了")
    assert refused.record is None and refused.message.code == "void.other_day"


def test_reprint_is_marked(counter: Counter, loopback: LoopbackPrinter, ledger: Ledger) -> None:
    result = confirm_ok(counter, open_sale(counter, OLD))
    assert result.record is not None
    again = counter.reprint(result.record.meal_id, "c01")
    assert again.printed and again.record is not None and again.record.kind == "reprint"
    first, second = printed(loopback)
    assert "重打" not in text_of(first)
    assert "助餐小票（重打）" in second.texts and "*** 重打 ***" in second.texts
    assert [q.data for q in second.qr_codes] == [str(result.record.meal_id)]
    assert second.line("小票号").text.endswith("T01-000001")
    assert [r.kind for r in ledger.records()] == ["sale", "reprint"]


def test_printer_offline_queue_then_reprint(counter: Counter, loopback: LoopbackPrinter, ledger: Ledger) -> None:
    loopback.state = PrinterState.OFFLINE
    result = counter.confirm(open_sale(counter, OLD), "cash")
    assert result.committed and not result.printed and result.print_error is PrinterErrorCode.OFFLINE
    assert result.record is not None and ledger.get(result.record.meal_id) is not None
    assert "已记账" in result.message.zh and "补打队列" in result.message.zh
    assert [r.meal_id for r in counter.reprint_queue()] == [result.record.meal_id]
    status = counter.status()
    assert status.printer is not None and status.printer.problem is PrinterErrorCode.OFFLINE
    assert status.reprint_pending == 1 and status.unsynced == 1

    # Still offline: the reprint is refused before anything is recorded.
    refused = counter.reprint(result.record.meal_id)
    assert refused.record is None and not refused.printed
    assert len(ledger.records()) == 1

    loopback.state = PrinterState.ONLINE
    (done,) = counter.reprint_all("c01")
    assert done.printed
    assert counter.reprint_queue() == []
    receipts = printed(loopback)
    assert [q.data for q in receipts[-1].qr_codes] == [str(result.record.meal_id)]
    # The receipt never printed: this is its first print, not a reprint (no 重打, no reprint record).
    assert done.record is None and [r.kind for r in ledger.records()] == ["sale"]
    assert "助餐小票" in receipts[-1].texts and not any("重打" in t for t in receipts[-1].texts)
    # A second print of it is a real reprint.
    again = counter.reprint(result.record.meal_id, "c01")
    assert again.record is not None and again.record.kind == "reprint"
    assert "助餐小票（重打）" in printed(loopback)[-1].texts and "*** 重打 ***" in printed(loopback)[-1].texts


def test_silent_printer_costs_only_its_timeout(counter: Counter, loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.SILENT
    result = counter.confirm(open_sale(counter, OLD), "cash")
    assert result.committed and result.print_error is PrinterErrorCode.TIMEOUT
    assert len(counter.reprint_queue()) == 1


def test_z_report_sums(counter: Counter, loopback: LoopbackPrinter, clock: Clock, ledger: Ledger) -> None:
    a = confirm_ok(counter, open_sale(counter, OLD), "cash")  # 1100 / 800 / 300
    b = confirm_ok(counter, open_sale(counter, YOUNG), "wechat")  # 1100 / 0 / 1100
    walk = counter.walk_in()
    assert isinstance(walk, Sale)
    walk = counter.choose_item(walk, "set-b")
    assert isinstance(walk, Sale)
    confirm_ok(counter, walk, "cash")  # 1300 / 0 / 1300
    d = confirm_ok(counter, open_sale(counter, DIBAO), "alipay")  # 1100 / 800 / 300
    assert a.record and b.record and d.record
    counter.void(d.record.meal_id, "退餐")
    counter.reprint(a.record.meal_id)
    clock.advance(hours=8)

    z = counter.end_of_day(DAY)
    assert z.printed
    r = z.report
    assert (r.sales, r.meals, r.voids, r.reprints, r.walk_ins, r.subsidised_meals) == (4, 3, 1, 1, 1, 1)
    assert (r.price_total, r.subsidy_total, r.elder_pays_total) == (3500, 800, 2700)
    assert r.elder_pays_by_method == {"cash": 1600, "wechat": 1100, "alipay": 0, "other": 0}
    assert (r.first_seq, r.last_seq) == (1, 6)
    assert ledger.z_reports(DAY)[-1] == r

    receipt = printed(loopback)[-1]
    assert "日结报表（Z）" in receipt.texts
    assert receipt.line("有效餐数").text.endswith("3")
    assert receipt.line("实收合计").text.endswith("￥27.00")
    assert receipt.line("补贴合计").text.endswith("￥8.00")
    assert receipt.line("现金").text.endswith("￥16.00")
    assert receipt.line("作废笔数").text.endswith("1")
    again = counter.reprint_z(DAY)
    assert not isinstance(again, CounterMessage) and again.report == r
    assert isinstance(counter.reprint_z(DAY - timedelta(days=1)), CounterMessage)


def test_breakfast_slot_offers_breakfast(counter: Counter, clock: Clock) -> None:
    clock.now = clock.now.replace(hour=7)
    sale = open_sale(counter, OLD)
    assert sale.item.id == "zao" and sale.quote.reasons[0] is Reason.SLOT_NOT_SUBSIDISED
