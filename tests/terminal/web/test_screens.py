"""The cashier screen and the elder display in Debian's Chromium (headless, Playwright), on a whole terminal: taps
on virtual cards through the private pcscd, the real ledger, receipts decoded from the loopback printer."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from terminal.virtual.pcscd import PrivatePcscd
from terminal.virtual.printer import PrinterState
from terminal.virtual.vpcd import CardSlot, SocialSecurityCard, UidCard
from tests.terminal.counter.world import DIBAO, OLD, REVOKED, UNKNOWN_UID, YOUNG
from tests.terminal.web.conftest import SCREENSHOTS, Terminal

OpenPage = Callable[..., Page]
FORBIDDEN = (OLD.elder.name, OLD.id_number, DIBAO.elder.name, DIBAO.id_number, "低保", "dibao", "按类别补贴", "e-0001")


def shot(page: Page, name: str) -> None:
    """Save a screenshot for the README, as a small palette PNG."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB").quantize(colors=128)
    image.save(SCREENSHOTS / f"{name}.png", optimize=True)


def tap(vcard: CardSlot, uid: str | None) -> None:
    assert uid is not None
    vcard.tap(UidCard(bytes.fromhex(uid)))


def no_secrets(page: Page) -> None:
    html = page.content()
    for word in FORBIDDEN:
        assert word not in html


def test_tap_quote_choose_confirm_receipt_and_elder_display(
    terminal: Terminal, vcard: CardSlot, open_page: OpenPage
) -> None:
    cashier = open_page(terminal.url + "/")
    display = open_page(terminal.url + "/display", width=1280, height=720)
    expect(cashier.locator("#idle h1")).to_have_text("请刷卡")
    expect(cashier.locator("#st-server .v")).to_contain_text("未连接服务器/离线")
    expect(cashier.locator("#st-reader .v")).to_have_text("读卡器已就绪")
    expect(cashier.locator("#st-unsynced .v")).to_have_text("0")
    expect(display.locator("#idle .tap")).to_have_text("请刷卡")
    shot(cashier, "cashier-idle")

    assert OLD.ssc is not None
    vcard.tap(SocialSecurityCard(OLD.ssc))
    expect(cashier.locator("#who")).to_have_text("张*丰")
    expect(cashier.locator("#who-extra")).to_contain_text("85 岁")
    expect(cashier.locator("#q-price")).to_have_text("¥11.00")
    expect(cashier.locator("#q-subsidy")).to_have_text("¥8.00")
    expect(cashier.locator("#q-pays")).to_have_text("¥3.00")
    expect(cashier.locator("#q-why")).to_contain_text("享受助餐补贴")
    expect(cashier.locator("#q-full")).to_be_hidden()
    expect(display.locator("#hello")).to_have_text("张*丰 您好")
    expect(display.locator("#pays")).to_have_text("¥3.00")
    shot(cashier, "cashier-sale")
    shot(display, "display-sale")

    # keyboard only: 2 picks the second set meal, W WeChat, Enter confirms
    cashier.keyboard.press("2")
    expect(cashier.locator("#q-pays")).to_have_text("¥5.00")
    expect(display.locator("#price")).to_have_text("¥13.00")
    expect(display.locator("#subsidy")).to_have_text("−¥8.00")
    expect(display.locator("#pays")).to_have_text("¥5.00")
    cashier.keyboard.press("w")
    expect(cashier.locator("#methods [data-method=wechat]")).to_have_attribute("aria-checked", "true")
    no_secrets(cashier)
    no_secrets(display)
    cashier.keyboard.press("Enter")

    expect(cashier.locator("#done-receipt")).to_have_text("T01-000001")
    expect(cashier.locator("#notice")).to_have_text("已记账，小票已打印")
    expect(cashier.locator("#t-meals")).to_have_text("1")
    expect(cashier.locator("#st-unsynced .v")).to_have_text("1")
    expect(display.locator("#done .paid")).to_contain_text("¥5.00")
    (meal,) = terminal.ledger.records()
    assert (meal.kind, meal.menu_item_id, meal.payment_method, meal.identified_by) == (
        "sale",
        "set-b",
        "wechat",
        "card",
    )
    assert (meal.quote.price, meal.quote.subsidy, meal.quote.elder_pays) == (1300, 800, 500)
    (receipt,) = terminal.receipts()
    assert receipt.line("就餐人").text.endswith("张*丰")
    assert receipt.line("清蒸鱼套餐").text.endswith("13.00")
    assert receipt.line("实付（微信）").text.endswith("5.00")
    assert [q.data for q in receipt.qr_codes] == [str(meal.meal_id)]
    # the elder display goes back to greeting the next elder
    expect(display.locator("#idle")).to_be_visible(timeout=5000)
    # the amount was spoken (espeak-ng's Mandarin voice, written to a WAV file here)
    terminal.wait("the spoken amount", lambda: any(p.stat().st_size > 1000 for p in terminal.speech_dir.glob("*.wav")))
    wav = sorted(terminal.speech_dir.glob("*.wav"))[0].read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"


def test_full_price_explained_and_still_sold(terminal: Terminal, vcard: CardSlot, open_page: OpenPage) -> None:
    cashier = open_page(terminal.url + "/")
    display = open_page(terminal.url + "/display", width=1280, height=720)
    tap(vcard, YOUNG.uid)
    expect(cashier.locator("#q-why")).to_have_text("未满补贴年龄，按原价")
    expect(cashier.locator("#q-full")).to_be_visible()
    expect(cashier.locator("#q-full")).to_have_text("无补贴，按原价收费，可以正常出售")
    expect(cashier.locator("#q-pays")).to_have_text("¥11.00")
    expect(display.locator("#subsidy-row")).to_be_hidden()
    expect(display.locator("#pays")).to_have_text("¥11.00")
    shot(cashier, "cashier-full-price")
    cashier.get_by_role("button", name="确认收款 Enter").click()
    expect(cashier.locator("#done-receipt")).to_have_text("T01-000001")
    vcard.remove_all()

    tap(vcard, REVOKED.uid)  # a revoked card: full price with the reason, sellable
    expect(cashier.locator("#q-why")).to_have_text("此卡已挂失或停用，按原价")
    expect(cashier.locator("#q-full")).to_be_visible()
    cashier.keyboard.press("z")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#done-receipt")).to_have_text("T01-000002")
    young, revoked = terminal.ledger.records()
    assert (young.quote.subsidy, young.quote.elder_pays, young.payment_method) == (0, 1100, "cash")
    assert (revoked.quote.subsidy, revoked.payment_method) == (0, "alipay")


def test_category_elder_shows_amounts_never_the_category(
    terminal: Terminal, vcard: CardSlot, open_page: OpenPage
) -> None:
    cashier = open_page(terminal.url + "/")
    display = open_page(terminal.url + "/display")
    tap(vcard, DIBAO.uid)
    expect(cashier.locator("#q-subsidy")).to_have_text("¥8.00")
    expect(display.locator("#subsidy")).to_have_text("−¥8.00")
    expect(display.locator("#hello")).to_have_text("李* 您好")
    no_secrets(cashier)
    no_secrets(display)
    state = cashier.evaluate("fetch('/api/state?view=display').then(r => r.text())")
    for word in (*FORBIDDEN, "age", "why", DIBAO.elder_id):
        assert word not in state


def test_unknown_card_then_walk_in_in_two_touches(terminal: Terminal, vcard: CardSlot, open_page: OpenPage) -> None:
    cashier = open_page(terminal.url + "/")
    tap(vcard, UNKNOWN_UID)
    expect(cashier.locator("#notice")).to_have_text("此卡未登记，请核对身份后人工查找，或按散客结算")
    expect(cashier.locator("#notice")).to_have_class("notice warn")
    # touch 1: 散客; touch 2: confirm
    cashier.get_by_role("button", name="S 散客").click()
    expect(cashier.locator("#who")).to_have_text("散客")
    expect(cashier.locator("#q-why")).to_have_text("未登记人员，按原价")
    cashier.get_by_role("button", name="确认收款 Enter").click()
    expect(cashier.locator("#done-receipt")).to_have_text("T01-000001")
    # and from the keyboard: S, Enter
    cashier.keyboard.press("s")
    expect(cashier.locator("#who")).to_have_text("散客")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#done-receipt")).to_have_text("T01-000002")
    walk_ins = terminal.ledger.records()
    assert [(m.identified_by, m.elder_id, m.quote.elder_pays) for m in walk_ins] == [("walk_in", None, 1100)] * 2
    assert [r.line("就餐人").text.endswith("散客") for r in terminal.receipts()] == [True, True]


def test_manual_lookup_keyboard_only_needs_a_reason(terminal: Terminal, open_page: OpenPage) -> None:
    cashier = open_page(terminal.url + "/")
    expect(cashier.locator("#idle h1")).to_have_text("请刷卡")
    cashier.keyboard.press("r")
    expect(cashier.locator("#d-manual")).to_be_visible()
    cashier.keyboard.type("0000")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#d-manual .dlg-msg")).to_have_text("没有找到，请核对后4位和姓氏，或按散客结算")
    cashier.locator("#m-tail").fill("")
    cashier.locator("#m-tail").focus()
    cashier.keyboard.type(OLD.id_number[-4:])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type("张")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#m-found li")).to_have_count(1)
    expect(cashier.locator("#m-found li").first).to_contain_text("张*丰")
    expect(cashier.locator("#m-found li").first).to_contain_text("1940")
    expect(cashier.locator("#m-reason")).to_be_focused()
    cashier.keyboard.press("Enter")  # no reason: refused
    expect(cashier.locator("#d-manual .dlg-msg")).to_have_text("请填写原因")
    shot(cashier, "cashier-manual-lookup")
    cashier.keyboard.type("忘带卡")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#d-manual")).to_be_hidden()
    expect(cashier.locator("#who")).to_have_text("张*丰")
    expect(cashier.locator("#who-extra")).to_contain_text("人工查找")
    html = cashier.content()
    assert OLD.id_number not in html and OLD.id_number[:14] not in html
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#done-receipt")).to_have_text("T01-000001")
    (meal,) = terminal.ledger.records()
    assert (meal.identified_by, meal.manual_reason, meal.quote.subsidy) == ("manual", "忘带卡", 800)
    (receipt,) = terminal.receipts()
    assert "身份确认：人工查找" in receipt.texts
    expect(cashier.locator("#t-manual")).to_have_text("1")


def test_void_last_or_chosen_meal_with_reason_and_slip(
    terminal: Terminal, vcard: CardSlot, open_page: OpenPage
) -> None:
    cashier = open_page(terminal.url + "/")
    for uid in (OLD.uid, YOUNG.uid):
        tap(vcard, uid)
        expect(cashier.locator("#sale")).to_be_visible()
        cashier.keyboard.press("Enter")
        expect(cashier.locator("#sale")).to_be_hidden()
        vcard.remove_all()
    expect(cashier.locator("#t-meals")).to_have_text("2")
    first, second = terminal.ledger.records()

    cashier.keyboard.press("v")
    expect(cashier.locator("#v-list li")).to_have_count(2)
    expect(cashier.locator("#v-list .chosen")).to_contain_text("T01-000002")  # the last one is selected
    cashier.keyboard.press("Enter")  # no reason
    expect(cashier.locator("#d-void .dlg-msg")).to_have_text("请填写原因")
    cashier.keyboard.press("ArrowDown")  # choose the earlier one instead
    expect(cashier.locator("#v-list .chosen")).to_contain_text("T01-000001")
    cashier.locator("#d-void .chip", has_text="菜品选错").click()
    shot(cashier, "cashier-void")
    cashier.locator("#v-reason").focus()
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#d-void")).to_be_hidden()
    expect(cashier.locator("#notice")).to_have_text("已作废，作废单已打印")
    expect(cashier.locator("#t-meals")).to_have_text("1")
    expect(cashier.locator("#t-voids")).to_have_text("1")
    void = terminal.ledger.records()[-1]
    assert (void.kind, void.refers_to, void.reason) == ("void", first.meal_id, "菜品选错")
    slip = terminal.receipts()[-1]
    assert "*** 作废 ***" in slip.texts
    assert slip.line("原小票号").text.endswith("T01-000001")

    # the last meal, by touch: V, a reason chip, the void button
    cashier.get_by_role("button", name="V 作废").click()
    expect(cashier.locator("#v-list li")).to_have_count(1)
    cashier.locator("#d-void .chip", has_text="顾客退餐").click()
    cashier.get_by_role("button", name="作废并打印作废单 Enter").click()
    expect(cashier.locator("#t-voids")).to_have_text("2")
    assert terminal.ledger.records()[-1].refers_to == second.meal_id


def test_printer_offline_then_reprint_queue(terminal: Terminal, vcard: CardSlot, open_page: OpenPage) -> None:
    cashier = open_page(terminal.url + "/")
    terminal.loopback.state = PrinterState.OFFLINE
    tap(vcard, OLD.uid)
    expect(cashier.locator("#sale")).to_be_visible()
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#notice")).to_have_text(
        "已记账，小票未打印，已加入补打。打印机未连接或已离线，小票已放入补打队列"
    )
    expect(cashier.locator("#st-printer .v")).to_have_text("离线")
    expect(cashier.locator("#st-reprint .v")).to_have_text("1")
    expect(cashier.locator("#t-meals")).to_have_text("1")
    shot(cashier, "cashier-printer-offline")
    (meal,) = terminal.ledger.records()  # committed although nothing printed
    assert terminal.receipts() == []

    cashier.keyboard.press("b")
    expect(cashier.locator("#r-queue li")).to_have_count(1)
    expect(cashier.locator("#r-queue li").first).to_contain_text("T01-000001")
    cashier.keyboard.press("a")  # still offline: refused, stays queued
    expect(cashier.locator("#d-reprint .dlg-msg")).to_contain_text("打印机")
    terminal.loopback.state = PrinterState.ONLINE
    cashier.keyboard.press("a")
    expect(cashier.locator("#d-reprint")).to_be_hidden()
    expect(cashier.locator("#st-reprint .v")).to_have_text("0")
    expect(cashier.locator("#st-printer .v")).to_have_text("正常")
    (receipt,) = terminal.receipts()
    assert "助餐小票" in receipt.texts and "*** 重打 ***" not in receipt.texts  # its first print, not a reprint
    assert [q.data for q in receipt.qr_codes] == [str(meal.meal_id)]

    # reprint the last receipt again from today's list: B, Enter
    cashier.keyboard.press("b")
    expect(cashier.locator("#r-list li")).to_have_count(1)
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#d-reprint")).to_be_hidden()
    assert len(terminal.receipts()) == 2
    assert "*** 重打 ***" in terminal.receipts()[-1].texts  # the second print is a reprint


def test_reader_unplugged_and_back(
    terminal: Terminal, vcard: CardSlot, open_page: OpenPage, pcscd: PrivatePcscd
) -> None:
    cashier = open_page(terminal.url + "/")
    expect(cashier.locator("#st-reader .v")).to_have_text("读卡器已就绪")
    pcscd.restart(with_reader=False)
    expect(cashier.locator("#st-reader")).to_have_class("st bad", timeout=10000)
    expect(cashier.locator("#notice")).to_contain_text("读卡器不可用")
    expect(cashier.locator("#notice")).to_contain_text("可以人工查找或按散客结算")
    shot(cashier, "cashier-reader-unplugged")
    # the counter still sells: a walk-in while the reader is gone
    cashier.keyboard.press("s")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#done-receipt")).to_have_text("T01-000001")
    pcscd.restart(with_reader=True)
    expect(cashier.locator("#st-reader .v")).to_have_text("读卡器已就绪", timeout=15000)
    tap(vcard, OLD.uid)
    expect(cashier.locator("#who")).to_have_text("张*丰")


def test_end_of_day_and_english(terminal: Terminal, vcard: CardSlot, open_page: OpenPage) -> None:
    cashier = open_page(terminal.url + "/")
    display = open_page(terminal.url + "/display")
    tap(vcard, OLD.uid)
    expect(cashier.locator("#sale")).to_be_visible()
    cashier.keyboard.press("x")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#done")).to_be_visible()
    cashier.keyboard.press("j")
    expect(cashier.locator("#d-z")).to_be_visible()
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#z-result")).to_contain_text("¥3.00")
    expect(cashier.locator("#notice")).to_have_text("日结报表已打印")
    z = terminal.receipts()[-1]
    assert "日结报表（Z）" in z.texts
    assert z.line("有效餐数").text.endswith("1")
    cashier.keyboard.press("Escape")
    expect(cashier.locator("#d-z")).to_be_hidden()

    cashier.keyboard.press("l")
    expect(cashier.locator("#idle h1")).to_have_text("Waiting for a card")
    expect(cashier.locator("#st-server .v")).to_contain_text("Not connected / offline")
    expect(display.locator("#idle .tap")).to_have_text("Please tap your card")
    vcard.remove_all()
    tap(vcard, YOUNG.uid)
    expect(cashier.locator("#q-why")).to_have_text("below the subsidy age: full price")
    expect(cashier.locator("#q-full")).to_have_text("No subsidy: full price. You can still sell the meal.")
    expect(display.locator("#hello")).to_have_text("Hello, 王*五")
    shot(cashier, "cashier-sale-en")
    cashier.keyboard.press("Escape")
    expect(cashier.locator("#notice")).to_have_text("Cancelled; nothing recorded")
    assert len(terminal.ledger.records()) == 1


def _contrast(page: Page, selector: str) -> list[tuple[str, float, float]]:
    """(text, contrast ratio, font size px) of every visible element with its own text under ``selector``, the
    background taken from the nearest ancestor with an opaque one (WCAG 2 relative luminance)."""
    found: list[tuple[str, float, float]] = page.evaluate(
        """(sel) => {
        const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
        const lum = ([r, g, b]) => {
          const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
          return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const bg = (el) => {
          for (let e = el; e; e = e.parentElement) {
            const c = rgb(getComputedStyle(e).backgroundColor);
            if (c.length < 4 || c[3] > 0) return c;
          }
          return [255, 255, 255];
        };
        const out = [];
        for (const el of document.querySelectorAll(sel + " *")) {
          const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
          if (!own || !el.offsetParent) continue;
          const s = getComputedStyle(el);
          const a = lum(rgb(s.color)), b = lum(bg(el));
          const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
          out.push([el.textContent.trim(), ratio, parseFloat(s.fontSize)]);
        }
        return out;
    }""",
        selector,
    )
    return found


def test_accessibility_contrast_font_size_labels(terminal: Terminal, vcard: CardSlot, open_page: OpenPage) -> None:
    display = open_page(terminal.url + "/display", width=1024, height=600)
    cashier = open_page(terminal.url + "/")
    for state in ("idle", "sale"):
        if state == "sale":
            tap(vcard, OLD.uid)
            expect(display.locator("#pays")).to_have_text("¥3.00")
        else:
            expect(display.locator("#idle h1")).to_have_text("欢迎就餐")
        texts = _contrast(display, "body")
        assert texts, "nothing measured"
        for text, ratio, _size in texts:
            assert ratio >= 7.0, f"{text!r} contrast {ratio:.1f}:1 < 7:1"
    amount = display.locator("#pays")
    size = float(amount.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert size >= 48
    for _text, _ratio, px in _contrast(display, "#sale"):
        assert px >= 48
    # every button and input on the cashier screen has a name a screen reader (and a test) can use
    expect(cashier.locator("#sale")).to_be_visible()
    unnamed = cashier.evaluate(
        """() => [...document.querySelectorAll('button, input')].filter((e) => {
            if (e.tagName === 'INPUT') return !(e.labels && e.labels.length && e.labels[0].textContent.trim());
            return !(e.textContent.trim() || e.getAttribute('aria-label'));
        }).map((e) => e.outerHTML)"""
    )
    assert unnamed == []
    assert cashier.locator("html").get_attribute("lang") == "zh-CN"
    for name in ("S 散客", "R 人工查找", "确认收款 Enter"):
        expect(cashier.get_by_role("button", name=name)).to_be_visible()
    expect(cashier.get_by_label("身份证号后4位")).to_be_attached()


def test_logs_carry_no_names(
    terminal: Terminal, vcard: CardSlot, open_page: OpenPage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cashier = open_page(terminal.url + "/")
    tap(vcard, DIBAO.uid)
    expect(cashier.locator("#sale")).to_be_visible()
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#done")).to_be_visible()
    cashier.keyboard.press("r")
    cashier.keyboard.type(DIBAO.id_number[-4:])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type("李")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#m-found li")).to_have_count(1)
    for word in (*FORBIDDEN, "李*", DIBAO.id_number[-4:]):
        assert word not in caplog.text
