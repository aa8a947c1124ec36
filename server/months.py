"""A settlement month as the API spells it (``YYYY-MM``, 1900-2999): one pattern for bodies and queries, one
parse with bounds, and the span of the city-wide summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ruyi.settlement import Month
from server.errors import Invalid

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
MonthQuery = Annotated[str, Query(pattern=MONTH_PATTERN, examples=["2026-10"])]
MAX_SUMMARY_MONTHS = 24


def parse_month(text: str, path: str = "month") -> Month:
    """``YYYY-MM`` between 1900 and 2999 (anything else is not a settlement month)."""
    try:
        month = Month.parse(text)
    except ValueError:
        month = None
    if month is None or not 1900 <= month.year <= 2999:
        raise Invalid.field(
            path, "month.format", "月份格式应为 YYYY-MM（1900–2999年）", "month must be YYYY-MM (1900-2999)"
        )
    return month


def months_between(first: Month, last: Month) -> list[Month]:
    if last < first:
        raise Invalid.field("to_month", "month.order", "结束月份早于开始月份", "to_month is before from_month")
    out = [first]
    while out[-1] < last:
        out.append(out[-1].next())
    if len(out) > MAX_SUMMARY_MONTHS:
        raise Invalid.field(
            "to_month", "month.span", f"最多 {MAX_SUMMARY_MONTHS} 个月", f"at most {MAX_SUMMARY_MONTHS} months"
        )
    return out
