"""Every kind of receipt fits 58 mm (32 columns) and 80 mm (48 columns) paper with the longest values allowed:
a 40-character canteen name, a 40-character menu item, a long name, a long cashier code, a long reason, the
largest amounts and a long terminal code. Decoded from the bytes the loopback printer received."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ruyi.money import MEAL_PRICE_CEILING
from ruyi.sync import MenuItem
from terminal.counter import Counter, Sale
from terminal.devices.printing import PaperWidth
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot, build_snapshot
from terminal.virtual.escpos_decode import Line, Receipt
from terminal.virtual.printer import LoopbackPrinter, PrinterState
from tests.terminal.counter.conftest import printed, tcp_printer
from tests.terminal.counter.test_counter import open_sale
from tests.terminal.counter.world import (
    CARD_SECRET,
    CATEGORY_KEY,
    MENU,
    NOON,
    PEOPLE,
    Clock,
    _person,
    rules,
)

LONG_CANTEEN = "如意食堂" + "鼓楼区中央门街道社区居家养老服务中心助餐点" + "（第二分点）" + "ABCDEFGHI"
assert len(LONG_CANTEEN) == 40  # terminal.config: canteen_name at most 40 characters
LONG_ITEM = MenuItem(
    id="long",
    name="红烧狮子头清炒时蔬番茄蛋汤米饭水果酸奶套餐Deluxe Set Meal XXL",
    price=MEAL_PRICE_CEILING,  # the largest price the contract allows (¥10,000.00)
    slot="lunch",
    valid_from=date(2025, 1, 1),
)
assert len(LONG_ITEM.name) == 40  # ruyi.sync.MenuItem: name at most 40 characters
LONG_NAME = _person("e-0101", "阿卜杜热合曼·买买提艾力·吐尔逊托合提江", date(1930, 1, 1), 21, uid="04F1F2F3F4F5F6")
assert len(LONG_NAME.elder.name) == 20  # ruyi.sync.RosterEntry: masked name at most 20 characters
LONG_YOUNG = _person("e-0102", "𠮷欧阳东方明珠·司马长风·诸葛云", date(1975, 1, 1), 22, uid="04F1F2F3F4F5F7")
LONG_CASHIER = "cashier-" + "x" * 56  # terminal.config Code: at most 64 characters
LONG_CODE = "RY-GULOU-ZHONGYANGMEN-0001-123"  # a canteen code of 25 characters and terminal 123
LONG_REASON = "老人反映菜品与所点不符，经值班经理核实后同意作废并退还现金，已当面点清" * 4


@pytest.fixture
def long_snapshot() -> Snapshot:
    return Snapshot.of(
        build_snapshot(
            created_at=NOON - timedelta(hours=6),
            rules=rules(),
            elders=[p.elder for p in (*PEOPLE, LONG_NAME, LONG_YOUNG)],
            menu=(*MENU, LONG_ITEM),
            card_secret=CARD_SECRET,
            category_key=CATEGORY_KEY,
        )
    )


def _columns(line: Line) -> int:
    return len(line.text.encode("gb18030")) * line.width


def _long_sale(counter: Counter, sale: Sale) -> Sale:
    chosen = counter.choose_item(sale, LONG_ITEM.id)
    assert isinstance(chosen, Sale)
    return chosen


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_every_receipt_kind_fits_the_paper_with_the_longest_values(
    paper: PaperWidth, long_snapshot: Snapshot, ledger: Ledger, loopback: LoopbackPrinter, clock: Clock
) -> None:
    counter = Counter(
        snapshot=long_snapshot,
        ledger=ledger,
        printer=tcp_printer(loopback, paper),
        clock=clock,
        canteen_name=LONG_CANTEEN,
        terminal_code=LONG_CODE,
    )
    subsidised = counter.confirm(_long_sale(counter, open_sale(counter, LONG_NAME)), "alipay", LONG_CASHIER)
    full_price = counter.confirm(_long_sale(counter, open_sale(counter, LONG_YOUNG)), "wechat", LONG_CASHIER)
    walk_in = counter.walk_in()
    assert isinstance(walk_in, Sale)
    walked = counter.confirm(_long_sale(counter, walk_in), "cash", LONG_CASHIER)
    manual = counter.manual_lookup(LONG_NAME.elder_id, "卡片遗忘在家，" * 10)
    assert isinstance(manual, Sale)
    by_hand = counter.confirm(_long_sale(counter, manual), "other", LONG_CASHIER)
    records = [r.record for r in (subsidised, full_price, walked, by_hand)]
    assert all(r is not None for r in records) and all(r.printed for r in (subsidised, full_price, walked))
    assert subsidised.record and full_price.record and by_hand.record
    assert subsidised.record.quote.subsidy > 0 and full_price.record.quote.subsidy == 0
    void = counter.void(full_price.record.meal_id, LONG_REASON[:200], LONG_CASHIER)
    assert void.record is not None and void.printed
    reprinted = counter.reprint(subsidised.record.meal_id, LONG_CASHIER)
    reprinted_void = counter.reprint(void.record.meal_id, LONG_CASHIER)
    assert reprinted.record is not None and reprinted_void.record is not None
    assert counter.end_of_day().printed

    receipts = printed(loopback)
    titles = [_title(r) for r in receipts]
    assert titles == [
        "助餐小票",
        "助餐小票",
        "助餐小票",
        "助餐小票",
        "作废单",
        "助餐小票（重打）",
        "作废单（重打）",
        "日结报表（Z）",
    ]
    for receipt in receipts:
        assert not receipt.unknown
        too_wide = [line.text for line in receipt.lines if _columns(line) > paper.columns]
        assert too_wide == [], f"wider than {paper.columns} columns: {too_wide}"
        assert all(image.width <= paper.dots for image in receipt.images)
    assert receipts[1].images  # the surname 𠮷 is in no GB2312 printer font: its line went out as a picture
    everything = "".join(t.strip() for r in receipts for t in r.texts)
    assert f"{LONG_CODE}-000001" in everything and "000001" in everything
    assert str(subsidised.record.meal_id) in {q.data for q in receipts[0].qr_codes}
    assert str(subsidised.record.terminal_id) not in everything.replace(LONG_CODE, "")


def _title(receipt: Receipt) -> str:
    for line in receipt.lines:
        if line.text.startswith(("助餐小票", "作废单", "日结报表")):
            return line.text
    raise AssertionError(f"no title in {receipt.texts}")


def test_a_receipt_that_never_printed_prints_first_without_reprint_title(
    snapshot: Snapshot, ledger: Ledger, loopback: LoopbackPrinter, clock: Clock
) -> None:
    counter = Counter(
        snapshot=snapshot, ledger=ledger, printer=tcp_printer(loopback), clock=clock, canteen_name="如意食堂"
    )
    loopback.state = PrinterState.PAPER_OUT
    sale = counter.confirm(open_sale(counter, PEOPLE[0]), "cash")
    assert sale.committed and not sale.printed and sale.record
    loopback.state = PrinterState.ONLINE
    (first,) = counter.reprint_all()
    assert first.printed and first.record is None  # the first print: no reprint record
    assert _title(printed(loopback)[-1]) == "助餐小票"
    again = counter.reprint(sale.record.meal_id)
    assert again.record is not None and _title(printed(loopback)[-1]) == "助餐小票（重打）"
    assert [r.kind for r in ledger.records()] == ["sale", "reprint"]
