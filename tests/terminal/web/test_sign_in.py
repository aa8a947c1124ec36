"""Cashier sign-in on the cashier screen (Chromium, Playwright) of a whole terminal with no server at all: the PIN
is checked offline against the snapshot's scrypt hashes; no sale opens while nobody is signed in; five wrong PINs
lock sign-in at this terminal for five minutes (on the terminal's clock); K signs out and asks the next cashier;
every record carries the signed-in cashier's id; the Z-report shows each cashier's figures."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from terminal.virtual.vpcd import CardSlot, UidCard
from tests.terminal.counter.world import CASHIER_PINS, CASHIERS, OLD, YOUNG
from tests.terminal.web.conftest import Terminal

OpenPage = Callable[..., Page]
WANG, LI = CASHIERS


def sign_in(page: Page, number: str, pin: str) -> None:
    page.keyboard.press("k")
    expect(page.locator("#d-signin")).to_be_visible()
    page.locator("#c-number").fill(number)
    page.keyboard.press("Enter")  # on to the PIN
    page.locator("#c-pin").fill(pin)
    page.keyboard.press("Enter")


def test_no_sale_before_sign_in_then_lockout_then_sign_in(
    signed_out_terminal: Terminal, vcard: CardSlot, open_page: OpenPage
) -> None:
    term = signed_out_terminal
    page = open_page(term.url + "/")
    expect(page.locator("#st-server .v")).to_contain_text("未连接服务器/离线")
    expect(page.locator("#signed-out")).to_have_text("未签到，不能收款：按 K 输入工号和密码签到")
    expect(page.locator("#cashier")).to_have_text("未签到")

    assert OLD.uid is not None
    vcard.tap(UidCard(bytes.fromhex(OLD.uid)))
    expect(page.locator("#notice")).to_contain_text("请先签到")
    expect(page.locator("#sale")).to_be_hidden()
    page.keyboard.press("s")  # a walk-in neither
    expect(page.locator("#notice")).to_contain_text("请先签到")
    assert term.ledger.meals_on(term.clock().date()) == []

    # Four wrong PINs (and an unknown number) say how many tries are left; the fifth locks for five minutes.
    for left, (number, pin) in zip(
        (4, 3, 2, 1), (("1001", "000000"), ("1001", "111111"), ("9999", "482913"), ("1002", "482913")), strict=True
    ):
        sign_in(page, number, pin)
        expect(page.locator("#d-signin .dlg-msg")).to_have_text(f"工号或密码不正确，还可尝试 {left} 次")
        page.keyboard.press("Escape")
    sign_in(page, "1001", "222222")
    expect(page.locator("#d-signin .dlg-msg")).to_have_text("密码错误次数过多，本机签到已锁定至 12:05")
    page.keyboard.press("Escape")
    sign_in(page, "1001", CASHIER_PINS["1001"])  # the right PIN while locked: still locked
    expect(page.locator("#d-signin .dlg-msg")).to_contain_text("已锁定至 12:05")
    page.keyboard.press("Escape")
    assert term.app.counter.desk.current is None

    term.clock.advance(minutes=5)
    sign_in(page, "1001", CASHIER_PINS["1001"])
    expect(page.locator("#d-signin")).to_be_hidden()
    expect(page.locator("#cashier")).to_have_text("收银员 1001 王芳")
    expect(page.locator("#signed-out")).to_be_hidden()
    assert "482913" not in page.content()

    vcard.remove_all()
    vcard.tap(UidCard(bytes.fromhex(OLD.uid)))
    expect(page.locator("#who")).to_have_text("张*丰")
    page.keyboard.press("Enter")
    expect(page.locator("#done-receipt")).to_have_text("T01-000001")
    (sale,) = term.ledger.meals_on(term.clock().date())
    assert sale.cashier == WANG.id
    receipt = term.receipts()[-1]
    assert receipt.line("收银员").text.strip() == "收银员 1001 王芳"


def test_switch_cashier_records_and_z_report_per_cashier(
    terminal: Terminal, vcard: CardSlot, open_page: OpenPage
) -> None:
    page = open_page(terminal.url + "/")
    expect(page.locator("#cashier")).to_have_text("收银员 1001 王芳")
    assert OLD.uid is not None and YOUNG.uid is not None
    vcard.tap(UidCard(bytes.fromhex(OLD.uid)))
    expect(page.locator("#who")).to_have_text("张*丰")
    page.keyboard.press("k")  # a sale is open: no switching in the middle of it
    expect(page.locator("#notice")).to_have_text("请先完成或取消当前收款，再签退或换班")
    expect(page.locator("#d-signin")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#done-receipt")).to_have_text("T01-000001")

    # One key: K signs 1001 out and asks for the next cashier; Esc leaves the counter signed out.
    page.keyboard.press("k")
    expect(page.locator("#d-signin")).to_be_visible()
    expect(page.locator("#cashier")).to_have_text("未签到")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#notice")).to_contain_text("请先签到")

    sign_in(page, "1002", CASHIER_PINS["1002"])
    expect(page.locator("#cashier")).to_have_text("收银员 1002 李雷")
    vcard.remove_all()
    vcard.tap(UidCard(bytes.fromhex(YOUNG.uid)))
    expect(page.locator("#sale")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#done-receipt")).to_have_text("T01-000002")
    page.keyboard.press("s")
    page.keyboard.press("Enter")
    expect(page.locator("#done-receipt")).to_have_text("T01-000003")
    page.keyboard.press("v")  # Li voids the walk-in
    page.locator("#v-reason").fill("点错")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("作废")

    records = terminal.ledger.meals_on(terminal.clock().date())
    assert [(r.kind, r.cashier) for r in records] == [
        ("sale", WANG.id),
        ("sale", LI.id),
        ("sale", LI.id),
        ("void", LI.id),
    ]

    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#z-result")).to_be_visible()
    terminal.wait("the Z-report", lambda: any("日结报表（Z）" in r.texts for r in terminal.receipts()))
    report = terminal.ledger.z_reports(terminal.clock().date())[-1]
    assert {k: (f.meals, f.voids, f.elder_pays_total) for k, f in report.by_cashier.items()} == {
        WANG.id: (1, 0, records[0].quote.elder_pays),
        LI.id: (1, 1, records[1].quote.elder_pays),
    }
    z = next(r for r in reversed(terminal.receipts()) if "日结报表（Z）" in r.texts)
    texts = [t.strip() for t in z.texts]
    wang_at, li_at = texts.index("收银员 1001 王芳"), texts.index("收银员 1002 李雷")
    assert texts[wang_at + 1].split() == ["餐次", "1"] and texts[li_at + 3].split() == ["作废", "1"]
