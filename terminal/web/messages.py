"""The words on the screens, zh-CN and English, in one catalogue: the pages fetch it (``/api/catalogue``) and
label themselves from it; the station uses it for the messages it composes. Short, and each error says what to
do next."""

from __future__ import annotations

from typing import Literal

from terminal.receipt import PAYMENT_TEXT

Lang = Literal["zh", "en"]

CATALOGUE: dict[str, tuple[str, str]] = {
    # cashier screen: idle and status bar
    "title": ("如意食堂 收银", "Ruyi canteen · counter"),
    "idle.wait": ("请刷卡", "Waiting for a card"),
    "idle.hint": (
        "刷社保卡、身份证或就餐卡；没带卡按 R 人工查找，散客按 S",
        "Tap a social security, resident ID or canteen card; no card: R for lookup, S for a walk-in",
    ),
    "today": ("今日", "Today"),
    "today.meals": ("就餐", "meals"),
    "today.subsidised": ("补贴餐", "subsidised"),
    "today.walk_ins": ("散客", "walk-ins"),
    "today.manual": ("人工查找", "manual"),
    "today.voids": ("作废", "voided"),
    "today.paid": ("实收", "taken"),
    "status.server": ("服务器", "Server"),
    "status.server.none": ("未连接服务器/离线", "Not connected / offline"),
    "status.server.online": ("已连接", "Online"),
    "status.server.offline": ("离线", "Offline"),
    "status.since": ("自", "since"),
    "status.unsynced": ("未同步", "Unsynced"),
    "status.printer": ("打印机", "Printer"),
    "status.printer.ok": ("正常", "Ready"),
    "status.printer.unknown": ("未检查", "Not checked"),
    "status.printer.near_end": ("纸将用完，请备好纸卷", "Paper low: have a new roll ready"),
    "status.printer.no_status": ("不回报状态", "Reports no status"),
    "status.reader": ("读卡器", "Reader"),
    "status.reader.unknown": ("等待读卡器", "Waiting for the reader"),
    "status.reprint": ("待补打", "To reprint"),
    "status.countdown": ("离线补贴剩余", "Subsidies stop in"),
    "status.countdown.none": ("—", "—"),
    "status.countdown.over": ("已暂停补贴", "Subsidies paused"),
    # a sale
    "sale.walk_in": ("散客", "Walk-in"),
    "sale.age": ("岁", "years"),
    "sale.manual": ("人工查找", "Manual lookup"),
    "sale.photo": ("照片", "Photo"),
    "sale.price": ("餐费", "Price"),
    "sale.subsidy": ("补贴", "Subsidy"),
    "sale.pays": ("应付", "To pay"),
    "sale.full_price": (
        "无补贴，按原价收费，可以正常出售",
        "No subsidy: full price. You can still sell the meal.",
    ),
    "sale.menu": ("菜品（按数字键选择）", "Meals (press the number)"),
    "sale.method": ("支付方式", "Payment"),
    "sale.confirm": ("确认收款 Enter", "Confirm · Enter"),
    "sale.cancel": ("取消 Esc", "Cancel · Esc"),
    **{f"method.{method}": words for method, words in PAYMENT_TEXT.items()},
    "done.title": ("已收款", "Paid"),
    "done.receipt": ("小票号", "Receipt"),
    # actions
    "action.walk_in": ("散客", "Walk-in"),
    "action.manual": ("人工查找", "Look up"),
    "action.void": ("作废", "Void"),
    "action.reprint": ("补打", "Reprint"),
    "action.z": ("日结", "End of day"),
    "action.lang": ("English", "中文"),
    "action.check_printer": ("检查打印机", "Check printer"),
    "action.close": ("关闭 Esc", "Close · Esc"),
    "action.search": ("查找", "Search"),
    "action.open": ("开单 Enter", "Open sale · Enter"),
    "action.void_do": ("作废并打印作废单 Enter", "Void and print slip · Enter"),
    "action.reprint_do": ("补打选中的小票 Enter", "Reprint selected · Enter"),
    "action.reprint_all": ("全部补打", "Reprint all"),
    "action.z_do": ("打印日结报表 Enter", "Print Z-report · Enter"),
    # dialogs
    "manual.title": ("人工查找（没带卡）", "Manual lookup (no card)"),
    "manual.tail": ("身份证号后4位", "Last 4 of the ID number"),
    "manual.name": ("姓名中的字（如姓）", "Part of the name (e.g. surname)"),
    "manual.reason": ("原因（必填）", "Reason (required)"),
    "manual.none": (
        "没有找到，请核对后4位和姓氏，或按散客结算",
        "Nobody found: check the digits and surname, or sell as walk-in",
    ),
    "manual.pick": ("选择本人（数字键）", "Pick the person (number key)"),
    "manual.born": ("生于", "born"),
    "manual.tail_short": ("尾号", "ID ends"),
    "reason.no_card": ("忘带卡", "Forgot the card"),
    "reason.card_broken": ("卡片损坏", "Card damaged"),
    "reason.card_lost": ("卡片丢失", "Card lost"),
    "void.title": ("作废今日的一笔", "Void a meal of today"),
    "void.pick": ("选择要作废的一笔（默认最后一笔）", "Choose the meal to void (the last one is selected)"),
    "void.reason": ("作废原因（必填）", "Reason (required)"),
    "void.none": ("今天还没有可作废的记录", "Nothing to void today"),
    "reason.wrong_item": ("菜品选错", "Wrong meal"),
    "reason.double": ("重复收款", "Charged twice"),
    "reason.returned": ("顾客退餐", "Meal returned"),
    "reprint.title": ("补打小票", "Reprint receipts"),
    "reprint.queue": ("未打印的小票（打印机故障时）", "Receipts that did not print"),
    "reprint.queue_empty": ("补打队列为空", "The reprint queue is empty"),
    "reprint.today": ("今日记录", "Today's records"),
    "z.title": ("日结（Z报表）", "End of day (Z-report)"),
    "z.ask": ("打印今天的日结报表？", "Print today's Z-report?"),
    "z.done": ("日结报表已打印", "Z-report printed"),
    # messages the station composes
    "msg.no_sale": ("没有正在进行的收款，请先刷卡", "No open sale: tap a card first"),
    "msg.cancelled": ("已取消，未记账", "Cancelled; nothing recorded"),
    # cashier sign-in (key K)
    "signin.title": ("收银员签到", "Cashier sign-in"),
    "signin.number": ("工号", "Number"),
    "signin.pin": ("密码", "PIN"),
    "signin.key": ("签到/换班", "Sign in / switch"),
    "signin.out_button": ("签退", "Sign out"),
    "signin.who": ("收银员 {who}", "Cashier {who}"),
    "signin.nobody": ("未签到", "Nobody signed in"),
    "signin.required": (
        "未签到，不能收款：按 K 输入工号和密码签到",
        "Nobody is signed in: no sale can be opened. Press K and sign in with your number and PIN",
    ),
    "signin.ok": ("已签到：收银员 {who}", "Signed in: cashier {who}"),
    "signin.out": ("已签退，下一位收银员请按 K 签到", "Signed out; the next cashier presses K to sign in"),
    "signin.wrong": ("工号或密码不正确，还可尝试 {left} 次", "Wrong number or PIN; {left} tries left"),
    "signin.malformed": ("请输入工号和 4–8 位数字密码", "Type your number and a 4-8 digit PIN"),
    "signin.locked": (
        "密码错误次数过多，本机签到已锁定至 {until}",
        "Too many wrong PINs: sign-in at this terminal is locked until {until}",
    ),
    "signin.sale_open": ("请先完成或取消当前收款，再签退或换班", "Finish or cancel the open sale before switching"),
    "msg.replace_ask": (
        "{who} 刷了卡，当前收款尚未确认：按 N 改收 {who}；按 Enter 先确认当前的，按 Esc 取消当前的",
        "{who} tapped while this sale is open: N switches to {who}; Enter confirms this one first, Esc cancels it",
    ),
    "msg.new_tap": ("新刷卡", "New tap"),
    "msg.reading": ("正在读卡…", "Reading card…"),
    "msg.reason_required": ("请填写原因", "Give a reason"),
    "msg.tail_required": ("请输入身份证号后4位（数字或X）", "Enter the last 4 characters of the ID number"),
    "msg.printer_ok": ("打印机正常", "Printer ready"),
    "msg.reprinted": ("已补打", "Reprinted"),
    "msg.nothing_to_reprint": ("没有需要补打的小票", "Nothing to reprint"),
    "msg.voided": ("已作废，作废单已打印", "Voided; the void slip printed"),
    "msg.voided_not_printed": (
        "已作废。作废单未打印，已放入补打队列",
        "Voided. The slip did not print; it is in the reprint queue",
    ),
    "msg.void_unknown": ("请选择要作废的一笔", "Choose the meal to void"),
    "msg.reader_down": (
        "读卡器不可用：{what}。可以人工查找或按散客结算",
        "Card reader unavailable: {what}. Use lookup or walk-in",
    ),
    # the elder display
    "display.welcome": ("欢迎就餐", "Welcome"),
    "display.tap": ("请刷卡", "Please tap your card"),
    "display.hello": ("{name} 您好", "Hello, {name}"),
    "display.hello_guest": ("您好", "Hello"),
    "display.price": ("餐费", "Meal"),
    "display.subsidy": ("补贴", "Subsidy"),
    "display.pays": ("请付", "Please pay"),
    "display.thanks": ("谢谢，祝您用餐愉快", "Thank you, enjoy your meal"),
    "display.paid": ("已付", "Paid"),
}


def text(key: str, lang: str = "zh", **values: object) -> str:
    zh, en = CATALOGUE[key]
    chosen = en if lang == "en" else zh
    return chosen.format(**values) if values else chosen


def catalogue(lang: str) -> dict[str, str]:
    """The whole catalogue in one language (what a page fetches)."""
    return {key: (en if lang == "en" else zh) for key, (zh, en) in CATALOGUE.items()}
