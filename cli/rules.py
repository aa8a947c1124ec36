"""``ruyi rules check FILE``: validate a rule book and show what sample elders would pay."""

from __future__ import annotations

import argparse
import unicodedata
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.errors import RuyiError
from ruyi.i18n import render
from ruyi.money import format_yuan, parse_yuan
from ruyi.pricing import MealRequest, quote
from ruyi.reasons import reason_text
from ruyi.rules import RuleBook, RuleVersion, parse_rulebook

DEFAULT_PRICES = ("5.00", "9.00", "11.00", "13.00")
SAMPLE_AGES = (59, 60, 74, 75, 80, 85, 90, 95)


def register(sub: Any) -> None:
    rules = sub.add_parser("rules", help="subsidy rule books / 补贴规则")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    check = rsub.add_parser("check", help="validate a rule book and show sample quotes / 校验规则并试算")
    check.add_argument("file", type=Path)
    check.add_argument("--on", type=date.fromisoformat, help="only the version in force on this date (YYYY-MM-DD)")
    check.add_argument("--price", action="append", help="menu price in yuan (repeatable), e.g. --price 11.00")
    check.add_argument("--lang", choices=("zh", "en"), default="zh")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    lang: str = args.lang
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"✗ {args.file}: {exc}")
        return 2
    try:
        book = parse_rulebook(text)
        prices = [parse_yuan(p) for p in (args.price or DEFAULT_PRICES)]
    except RuyiError as exc:
        count = len(exc.problems)
        print(f"✗ {args.file}: " + (f"{count} 处错误" if lang == "zh" else f"{count} problem(s)"))
        print(render(exc.problems, lang))
        return 1
    print(f"✓ {args.file}: {book.name} ({book.programme})")
    for i, version in enumerate(book.versions):
        if args.on is not None and not (version.effective_from <= args.on and _until(book, i, args.on)):
            continue
        end = book.end_of(i)
        print(f"\n版本 {version.id}: {version.effective_from} – {end or '…'}  {version.note}".rstrip())
        print(_table(book, version, prices, lang))
    return 0


def _until(book: RuleBook, index: int, day: date) -> bool:
    end = book.end_of(index)
    return end is None or day <= end


def _samples(book: RuleBook, day: date) -> list[tuple[str, ElderProfile]]:
    enrolled = (StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2000, 1, 1)),)

    def elder(age: int, category: str | None = None) -> ElderProfile:
        born = (
            day.replace(year=day.year - age) if not (day.month == 2 and day.day == 29) else date(day.year - age, 3, 1)
        )
        cats = (CategorySpan(code=category, valid_from=date(2000, 1, 1)),) if category else ()
        return ElderProfile(elder_id=f"sample-{age}-{category}", birth_date=born, statuses=enrolled, categories=cats)

    rows = [(f"{age}周岁", elder(age)) for age in SAMPLE_AGES]
    rows += [(f"65周岁 {label}", elder(65, code)) for code, label in book.categories.items()]
    return rows


def _table(book: RuleBook, version: RuleVersion, prices: list[int], lang: str) -> str:
    day = version.effective_from
    when = datetime.combine(day, time(12, 0), tzinfo=book.zone)
    slot = version.subsidised_slots[0]
    header = ["老人 / elder", *(f"餐价 {format_yuan(p)}" for p in prices)]
    body: list[list[str]] = []
    notes: dict[str, str] = {}
    for label, profile in _samples(book, day):
        row = [label]
        for price in prices:
            meal = MealRequest(canteen_id="sample", slot=slot, price=price, service_time=when)
            q = quote(profile, meal, [], book)
            cell = f"付{format_yuan(q.elder_pays, symbol=False)}"
            if q.subsidy:
                cell += f" 补{format_yuan(q.subsidy, symbol=False)}"
            mark = q.reasons[0]
            notes.setdefault(mark.value, reason_text(mark, lang))
            row.append(cell + ("" if q.subsidised else " *"))
        body.append(row)
    widths = [max(_width(r[c]) for r in [header, *body]) for c in range(len(header))]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("* " + "; ".join(text for code, text in notes.items() if code != "subsidised"))
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
