"""What a receipt may say (invariant 8): the masked name, never the ID number, a category or its tier label;
on 58 and 80 mm paper, for sales, void slips and reprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from ruyi.redact import CATEGORY_TIER_LABEL
from terminal.counter import Counter
from terminal.devices.printing import PaperWidth
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot, write_snapshot
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.counter.conftest import printed, tcp_printer
from tests.terminal.counter.test_counter import open_sale
from tests.terminal.counter.world import CANTEEN_NAME, DIBAO, OLD, PEOPLE, Clock, rules, snapshot_data


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_receipts_never_show_id_number_category_or_full_name(
    paper: PaperWidth, snapshot: Snapshot, ledger: Ledger, loopback: LoopbackPrinter, clock: Clock
) -> None:
    counter = Counter(
        snapshot=snapshot, ledger=ledger, printer=tcp_printer(loopback, paper), clock=clock, canteen_name=CANTEEN_NAME
    )
    dibao = open_sale(counter, DIBAO)
    assert dibao.quote.subsidy == 800 and dibao.quote.tiers[0].startswith("t")  # the category tier, tokenised
    first = counter.confirm(dibao, "cash")
    old = counter.confirm(open_sale(counter, OLD), "cash")
    assert first.record and old.record
    counter.void(old.record.meal_id, "重复")
    counter.reprint(first.record.meal_id)
    counter.end_of_day()

    receipts = printed(loopback)
    assert len(receipts) == 5
    book = rules()
    forbidden = {CATEGORY_TIER_LABEL, *book.categories, *book.categories.values()}
    forbidden |= {t.label for v in book.versions for t in v.tiers}
    for p in PEOPLE:
        forbidden |= {p.id_number, p.id_number[:6], p.elder.name}
    forbidden.discard("")
    for receipt in receipts:
        assert not receipt.unknown
        text = "\n".join(receipt.texts)
        leaks = sorted(word for word in forbidden if word in text)
        assert leaks == [], f"receipt shows {leaks}: {text}"
        if paper is PaperWidth.MM58:
            assert max(len(t.encode("gb18030")) for t in receipt.texts) <= 32
    names = "\n".join("\n".join(r.texts) for r in receipts)
    assert "李*" in names and "张*丰" in names


def test_snapshot_on_disk_holds_no_id_number_name_or_category(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot_data())
    raw = path.read_text(encoding="utf-8")
    book = rules()
    for word in [*book.categories, *book.categories.values(), "低保", "特困"]:
        assert word not in raw
    for p in PEOPLE:
        assert p.id_number not in raw and p.elder.name not in raw
        assert p.uid is not None and p.uid not in raw
