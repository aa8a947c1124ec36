"""Money is an ``int`` of fen (分) everywhere. Yuan text exists only at the edges (screens, receipts, files).

Rounding rule (the only one in the project): a percentage is given in basis points (1/100 of a percent,
so 15% = 1500) and ``percent_of`` rounds half up to the whole fen (四舍五入). Subsidies are computed with it and
the elder pays ``price - subsidy``, so the two always add up to the price exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from ruyi.errors import InvalidMoney
from ruyi.i18n import bilingual_error

Fen = int
"""An amount of money in fen (1 yuan = 100 fen): the plain type computations use. A contract's money field is a
:data:`StrictFen` (or an ``Annotated[int, FenRange(...)]`` with its own bounds)."""

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


# -- money in contracts -------------------------------------------------------------------------------------------

INT4_MAX = 2**31 - 1
"""The largest amount a 4-byte integer column holds (¥21,474,836.47): the ceiling of every stored amount."""
MEAL_PRICE_CEILING = 1_000_000
"""No meal costs more than ¥10,000.00 in any contract; the server's configured maximum (``max_meal_price_fen``)
is at most this and usually far lower."""
FEN_DESCRIPTION = "integer fen (分): ¥11.00 is 1100"
FEN_UNIT_KEY = "x-unit"
"""In the JSON schema of every money field: ``"x-unit": "fen"`` (what a client, or a test, finds them by)."""
_HINT_ZH = "金额以分为单位的整数：¥11.00 应写作 1100"
_HINT_EN = "amounts are integer fen: ¥11.00 is 1100"


def fen_range_text(ge: int, le: int) -> tuple[str, str]:
    """The message (zh, en) of an amount outside ``ge..le`` fen; it says the unit too."""
    zh = f"金额应在 {ge} 至 {le} 分之间（{format_yuan(ge)} 至 {format_yuan(le)}）；{_HINT_ZH}"
    en = f"the amount must be {ge} to {le} fen ({format_yuan(ge)} to {format_yuan(le)}); {_HINT_EN}"
    return zh, en


@dataclass(frozen=True, slots=True)
class FenRange:
    """Pydantic annotation of a money field: an ``int`` of fen in ``ge..le``, strictly. Text ("5.00", "500"),
    floats (11.0) and booleans are refused, never coerced (lax mode would read "5.00" as 5 fen and ``true`` as
    1), with the code ``money.fen_type``; an amount out of range with ``money.fen_range``. Both messages say
    the unit (zh and en: :data:`_HINT_EN`), and the JSON schema says it too (``description``, ``x-unit``)."""

    ge: int = 0
    le: int = INT4_MAX

    def check(self, value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        if type(value) is not int:  # bool is an int subclass: refused too
            raise bilingual_error(
                "money.fen_type",
                f"{_HINT_ZH}（而不是 {value!r}）",
                f"{_HINT_EN} (not {value!r})",
            )
        if not self.ge <= value <= self.le:
            raise bilingual_error("money.fen_range", *fen_range_text(self.ge, self.le))
        return handler(value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        inner = core_schema.int_schema(ge=self.ge, le=self.le, strict=True)
        return core_schema.no_info_wrap_validator_function(self.check, inner)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out.setdefault("description", FEN_DESCRIPTION)
        out[FEN_UNIT_KEY] = "fen"
        return out


StrictFen = Annotated[int, FenRange()]
"""A money field of a contract: integer fen, 0 to :data:`INT4_MAX`."""
MealPrice = Annotated[int, FenRange(le=MEAL_PRICE_CEILING)]
"""A meal's price (or its subsidy, or what the elder pays) in a contract: integer fen, 0 to
:data:`MEAL_PRICE_CEILING`."""
FenOut = Annotated[int, Field(description=FEN_DESCRIPTION, json_schema_extra={FEN_UNIT_KEY: "fen"})]
"""A money figure an answer carries (validated by whoever made it): documented as integer fen, not checked again."""
