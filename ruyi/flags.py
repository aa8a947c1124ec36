"""The flags intake keeps with meals for review: codes and what they mean, in Chinese and English.

Shared by the server's intake and review lists and by the settlement (held meals, edit checks). Unknown codes
are allowed and shown by their code."""

from __future__ import annotations

from ruyi.meal import FAULT_TEXT

CHAIN_PREFIX = "chain_"

FLAG_TEXT: dict[str, tuple[str, str]] = {
    "quote_mismatch": (
        "终端报价与服务器按当时规则重算的结果不一致",
        "the terminal's quote differs from the server's re-quote",
    ),
    "daily_limit_exceeded": (
        "超出每日（或每餐段）补贴次数上限（跨食堂合计，多为离线时发生）",
        "subsidised beyond the daily (or per-slot) limit across canteens (typically while offline)",
    ),
    "elder_not_eligible": (
        "就餐时老人处于暂停、注销或已故状态",
        "the elder was suspended, cancelled or deceased at service time",
    ),
    "unknown_elder": ("终端记录的老人不在名册中", "the elder the terminal named is not registered"),
    "unknown_menu_item": ("菜品不是本食堂当日菜单上的", "the item is not on this canteen's menu that day"),
    "card_revoked": ("就餐前此卡已挂失或解绑", "the card was revoked before the service time"),
    "stale_roster": (
        "终端名册过旧，超出离线政策允许的时长",
        "the terminal's roster was older than the offline policy allows",
    ),
    "clock_skew": ("终端时钟与服务器时间相差过大", "the terminal's clock was far from the server's"),
    "future_service_time": ("就餐时间晚于服务器当前时间", "the service time is in the future"),
    "far_past_service_time": ("就餐时间过于久远", "the service time is implausibly far in the past"),
    "eligibility_changed": (
        "按现行登记信息（身故、注销、暂停、类别结束或卡挂失，含事后登记的）重算，补贴低于已付金额，待审核",
        "priced again for the registry as it stands now (a death, cancellation, suspension, ended category or "
        "revoked card, also one recorded late), the subsidy is below what was paid: awaiting a decision",
    ),
    "manual_identification": ("人工查找身份（未刷卡）", "identified by hand (no card tapped)"),
    "void_irregular": (
        "作废记录异常：找不到本终端的原销售、重复作废、跨日作废或金额与原销售不符",
        "an irregular void: no such sale of this terminal, voided twice, on another day, or amounts differ",
    ),
    **{f"{CHAIN_PREFIX}{kind}": text for kind, text in FAULT_TEXT.items()},
}
FLAG_CODES = frozenset(FLAG_TEXT)


def flag_text(code: str, lang: str = "zh") -> str:
    zh, en = FLAG_TEXT.get(code, (code, code))
    return en if lang == "en" else zh
