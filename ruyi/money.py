"""Money is an ``int`` of fen (分) everywhere. Yuan text exists only at the edges (screens, receipts, files).

Rounding rule (the only one in the project): a percentage is given in basis points (1/100 of a percent,
so 15% = 1500) and ``percent_of`` rounds half up to the whole fen (四舍五入). Subsidies are computed with it and
the elder pays ``price - subsidy``, so the two always add up to the price exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ruyi.errors import InvalidMoney

Fen = int
"""An amount of money in fen (1 yuan = 100 fen)."""

BASIS_POINTS_100_PERCENT = 10_000

_YUAN = re.compile(r"^(?P<sign>-?)\s*[¥￥]?\s*(?P<int>\d+)(?:\.(?P<frac>\d{1,2}))?\s*元?$")


def parse_yuan(text: str) -> Fen:
    """Read an amount written in yuan ("12.5", "12.50", "¥12.50", "￥3", "8元", "-1.20") as exact fen.

    Never goes through float. More than two decimals, thousands separators or exponents are refused.
    """
    m = _YUAN.match(text.strip())
    if m is None:
        raise InvalidMoney.one(
            "money.format",
            f"金额格式不正确：{text!r}（应写作 12.50 或 ¥12.50，最多两位小数）",
            f"not an amount in yuan: {text!r} (write 12.50 or ¥12.50, at most two decimals)",
        )
    fen = int(m["int"]) * 100 + int((m["frac"] or "0").ljust(2, "0"))
    return -fen if m["sign"] else fen


def format_yuan(fen: Fen, *, symbol: bool = True) -> str:
    """Format fen for a screen or receipt: 1250 -> "¥12.50", -300 -> "-¥3.00"."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{'¥' if symbol else ''}{yuan}.{cents:02d}"


def parse_percent(value: str | int | float) -> int:
    """Read a percentage ("15", 15, 12.5, "12.25%") as basis points (1500, 1250, 1225), exactly.

    Floats are accepted only through their shortest decimal text (what a YAML author typed), and at
    most two decimals are allowed, so no binary rounding can creep in.
    """
    if isinstance(value, bool):
        raise _bad_percent(value)
    text = str(value).strip().removesuffix("%").strip()
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise _bad_percent(value) from None
    if not d.is_finite():
        raise _bad_percent(value)
    bp = d * 100
    if bp != bp.to_integral_value():
        raise _bad_percent(value)
    return int(bp)


def _bad_percent(value: object) -> InvalidMoney:
    return InvalidMoney.one(
        "percent.format",
        f"百分比格式不正确：{value!r}（应写作 15 或 12.5，最多两位小数）",
        f"not a percentage: {value!r} (write 15 or 12.5, at most two decimals)",
    )


def percent_of(fen: Fen, basis_points: int) -> Fen:
    """``basis_points``/10000 of ``fen``, rounded half up to the whole fen (85% of 1300 = 1105)."""
    if fen < 0 or basis_points < 0:
        raise ValueError("percent_of takes non-negative amounts")
    return (fen * basis_points * 2 + BASIS_POINTS_100_PERCENT) // (2 * BASIS_POINTS_100_PERCENT)
