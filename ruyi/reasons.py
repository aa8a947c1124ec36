"""Machine-readable reason codes for eligibility and quotes, with the words shown to staff and elders."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Why a meal is (or is not) subsidised, or how its subsidy was shaped. Stored with every meal."""

    SUBSIDISED = "subsidised"
    FREE_MEAL = "free_meal"
    WALK_IN = "walk_in"
    UNDER_AGE = "under_age"
    NOT_ENROLLED = "not_enrolled"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    DECEASED = "deceased"
    OUTSIDE_AREA = "outside_area"
    NO_RULES_IN_FORCE = "no_rules_in_force"
    SLOT_NOT_SUBSIDISED = "slot_not_subsidised"
    DAILY_LIMIT_REACHED = "daily_limit_reached"
    SLOT_LIMIT_REACHED = "slot_limit_reached"
    NO_TIER_APPLIES = "no_tier_applies"
    ZERO_SUBSIDY = "zero_subsidy"
    BELOW_MIN_SPEND = "below_min_spend"
    CAPPED = "capped"
    COPAY_FLOOR = "copay_floor"
    CARD_REVOKED = "card_revoked"
    OFFLINE_TOO_LONG = "offline_too_long"


# Words for the cashier (plain, short). The elder-facing display shows amounts only, never a category.
REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.SUBSIDISED: ("享受助餐补贴", "subsidised meal"),
    Reason.FREE_MEAL: ("按规定免费就餐", "free meal under the rules"),
    Reason.WALK_IN: ("未登记人员，按原价", "not registered: full price"),
    Reason.UNDER_AGE: ("未满补贴年龄，按原价", "below the subsidy age: full price"),
    Reason.NOT_ENROLLED: ("未纳入助餐名册，按原价", "not enrolled in the programme: full price"),
    Reason.SUSPENDED: ("助餐资格暂停中，按原价", "enrolment suspended: full price"),
    Reason.CANCELLED: ("助餐资格已注销，按原价", "enrolment cancelled: full price"),
    Reason.DECEASED: ("人员已注销（身故），按原价", "registered as deceased: full price"),
    Reason.OUTSIDE_AREA: ("不在本项目服务范围，按原价", "outside the programme area: full price"),
    Reason.NO_RULES_IN_FORCE: ("当日无生效的补贴规则，按原价", "no subsidy rules in force that day: full price"),
    Reason.SLOT_NOT_SUBSIDISED: ("本餐次不享受补贴，按原价", "this meal slot is not subsidised: full price"),
    Reason.DAILY_LIMIT_REACHED: ("今日补贴次数已用完，按原价", "daily subsidised meals used up: full price"),
    Reason.SLOT_LIMIT_REACHED: ("本餐次补贴已享受过，按原价", "already subsidised in this slot today: full price"),
    Reason.NO_TIER_APPLIES: ("不符合任何补贴档次，按原价", "no subsidy tier applies: full price"),
    Reason.ZERO_SUBSIDY: ("补贴金额为零，按原价", "the subsidy comes to nothing: full price"),
    Reason.BELOW_MIN_SPEND: ("未达到最低消费，部分补贴不适用", "below the minimum spend for a subsidy"),
    Reason.CAPPED: ("补贴已按上限封顶", "subsidy capped at its maximum"),
    Reason.COPAY_FLOOR: ("本人须支付最低自付金额", "the minimum co-payment applies"),
    Reason.CARD_REVOKED: ("此卡已挂失或停用，按原价", "card revoked: full price"),
    Reason.OFFLINE_TOO_LONG: ("终端离线过久，暂不享受补贴，按原价", "terminal offline too long: full price"),
}


def reason_text(reason: Reason, lang: str = "zh") -> str:
    zh, en = REASON_TEXT[reason]
    return en if lang == "en" else zh
