"""Subsidy rule sets as data: the schema, its checks, and which version is in force on a date.

A rule book (one YAML or JSON file) belongs to one programme and holds effective-dated versions. A version
never changes once in force: a policy change is a new version whose ``effective_from`` closes the one
before it. Amounts are written as quoted yuan text ("8.00") and held as integer fen; percentages as
numbers (15 or 12.5) held as basis points. See deploy/rules/ for annotated examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BeforeValidator, Field, PlainSerializer, ValidationError

from ruyi._model import Frozen
from ruyi.errors import InvalidMoney, InvalidRuleSet, Problem
from ruyi.i18n import bilingual_error, problems_from
from ruyi.money import BASIS_POINTS_100_PERCENT, Fen, format_yuan, parse_percent, parse_yuan

FORMAT_VERSION = 1
Slot = Literal["breakfast", "lunch", "dinner"]
SLOTS: tuple[Slot, ...] = ("breakfast", "lunch", "dinner")
SLOT_TEXT: dict[str, tuple[str, str]] = {
    "breakfast": ("早餐", "breakfast"),
    "lunch": ("午餐", "lunch"),
    "dinner": ("晚餐", "dinner"),
}


def _money_in(value: Any) -> Fen:
    if isinstance(value, str):
        try:
            return parse_yuan(value)
        except InvalidMoney as exc:
            p = exc.problems[0]
            raise bilingual_error("money_format", p.zh, p.en) from None
    raise bilingual_error(
        "money_type",
        f'金额请写成带引号的元，例如 "8.00"（而不是 {value!r}）',
        f'write amounts as quoted yuan text, e.g. "8.00" (not {value!r})',
    )


def _percent_in(value: Any) -> int:
    try:
        return parse_percent(value)
    except InvalidMoney as exc:
        p = exc.problems[0]
        raise bilingual_error("percent_format", p.zh, p.en) from None


def _percent_out(bp: int) -> str:
    return format(Decimal(bp) / 100, "f").rstrip("0").rstrip(".") if bp % 100 else str(bp // 100)


Money = Annotated[
    Fen, BeforeValidator(_money_in), PlainSerializer(lambda v: format_yuan(v, symbol=False), return_type=str)
]
"""Money in a rule file: quoted yuan text in, integer fen inside, yuan text out."""

Percent = Annotated[int, BeforeValidator(_percent_in), PlainSerializer(_percent_out, return_type=str)]
"""A percentage in a rule file, held as basis points (15% = 1500)."""

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]


class Conditions(Frozen):
    """Who a tier is for. All given conditions must hold; an empty block matches every eligible elder."""

    age_min: int | None = Field(default=None, ge=0, le=150)
    age_max: int | None = Field(default=None, ge=0, le=150)
    categories_any: tuple[Code, ...] = ()
    """At least one of these categories in force on the service date."""
    categories_all: tuple[Code, ...] = ()
    """Every one of these categories in force on the service date."""


class Subsidy(Frozen):
    """Exactly one of: a fixed amount, a percentage of the price, or the whole meal free."""

    fixed: Money | None = None
    percent: Percent | None = None
    free: bool = False


class Tier(Frozen):
    id: Code
    label: str = Field(min_length=1, max_length=80)
    """Shown to staff with the quote (say who it is for, in Chinese)."""
    group: Code | None = None
    """With ``combine: sum``: tiers of one group are alternatives (the largest applies), groups add up.
    Tiers without a group are each their own group. With ``combine: highest`` groups do not matter."""
    when: Conditions = Conditions()
    subsidy: Subsidy
    min_spend: Money = 0
    """The meal's price must be at least this for the tier to apply."""


class Limits(Frozen):
    """Subsidised meals per elder, counted across all canteens of the programme (补贴跟人走)."""

    per_day: int | None = Field(default=1, ge=1)
    per_slot: int | None = Field(default=1, ge=1)


class OperatingSubsidy(Frozen):
    """What the canteen earns for serving the programme (运行补贴)."""

    basis: Literal["meal", "elder_day"]
    """``meal``: per subsidised meal; ``elder_day``: per distinct subsidised elder per day and canteen."""
    amount: Money
    monthly_cap: Money | None = None
    """Applied per canteen and month by the settlement, not per meal."""


class RuleVersion(Frozen):
    id: Code
    effective_from: date
    effective_to: date | None = None
    """Last day in force (inclusive). Empty: until the next version starts."""
    note: str = ""
    areas: tuple[Code, ...] = ()
    """Programme areas (e.g. district codes) whose residents are covered; empty means everyone."""
    min_age: int = Field(default=60, ge=0, le=150)
    """Age (周岁) from which an enrolled elder is eligible at all."""
    subsidised_slots: tuple[Slot, ...] = Field(min_length=1)
    combine: Literal["highest", "sum"] = "highest"
    max_subsidy: Money | None = None
    """Cap on the elder subsidy of one meal (after combining tiers)."""
    min_copay: Money = 0
    """有偿助餐: the elder pays at least this much unless a tier makes the meal free."""
    limits: Limits = Limits()
    tiers: tuple[Tier, ...] = Field(min_length=1)
    operating: OperatingSubsidy | None = None

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class RuleBook(Frozen):
    format: Literal[1]
    """The version of this file format (not of the policy)."""
    programme: Code
    name: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    """Where the programme's days begin and end: a meal's service date is taken in this zone."""
    categories: dict[Code, str] = {}  # noqa: RUF012 (a pydantic field: the default is copied)
    """Category codes this file may refer to, with their names. The list is data, not code."""
    versions: tuple[RuleVersion, ...] = Field(min_length=1)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def version_on(self, day: date) -> RuleVersion | None:
        """The version in force on ``day`` (versions are sorted and never overlap)."""
        found: RuleVersion | None = None
        for v in self.versions:
            if v.effective_from > day:
                break
            found = v
        if found is None or (found.effective_to is not None and day > found.effective_to):
            return None
        return found

    def end_of(self, index: int) -> date | None:
        """The last day version ``index`` is in force: its own end, or the day before the next starts."""
        v = self.versions[index]
        if v.effective_to is not None:
            return v.effective_to
        if index + 1 < len(self.versions):
            return self.versions[index + 1].effective_from - timedelta(days=1)
        return None


def check_rulebook(book: RuleBook) -> list[Problem]:
    """The checks a schema cannot express: dates, declared categories, amounts, ambiguous tiers."""
    problems: list[Problem] = []

    def add(path: str, code: str, zh: str, en: str) -> None:
        problems.append(Problem(path=path, code=code, zh=zh, en=en))

    try:
        ZoneInfo(book.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        add("timezone", "timezone_unknown", f"未知时区 {book.timezone!r}", f"unknown time zone {book.timezone!r}")

    seen_versions: set[str] = set()
    for i, v in enumerate(book.versions):
        vp = f"versions[{i}]"
        if v.id in seen_versions:
            add(f"{vp}.id", "duplicate_id", f"版本号 {v.id} 重复", f"version id {v.id} is used twice")
        seen_versions.add(v.id)
        if v.effective_to is not None and v.effective_to < v.effective_from:
            add(f"{vp}.effective_to", "dates_reversed", "结束日期早于开始日期", "ends before it starts")
        if i > 0:
            prev = book.versions[i - 1]
            if v.effective_from <= prev.effective_from:
                add(
                    f"{vp}.effective_from",
                    "versions_unsorted",
                    "版本须按生效日期从早到晚排列，且生效日期不能相同",
                    "versions must be listed by effective date, each starting on a later date",
                )
            elif prev.effective_to is not None and prev.effective_to >= v.effective_from:
                add(
                    f"{vp}.effective_from",
                    "versions_overlap",
                    f"与版本 {prev.id} 的有效期重叠（{prev.id} 至 {prev.effective_to} 止）",
                    f"overlaps version {prev.id}, which is in force until {prev.effective_to}",
                )
        if len(set(v.subsidised_slots)) != len(v.subsidised_slots):
            add(f"{vp}.subsidised_slots", "duplicate_slot", "餐次重复", "a slot is listed twice")
        if v.max_subsidy is not None and v.max_subsidy < 0:
            add(f"{vp}.max_subsidy", "negative_amount", "金额不能为负", "must not be negative")
        if v.min_copay < 0:
            add(f"{vp}.min_copay", "negative_amount", "金额不能为负", "must not be negative")
        for a in v.areas:
            if not a:
                add(f"{vp}.areas", "empty", "区域代码不能为空", "an area code is empty")
        if v.operating is not None:
            for name, amount in (("amount", v.operating.amount), ("monthly_cap", v.operating.monthly_cap)):
                if amount is not None and amount < 0:
                    add(f"{vp}.operating.{name}", "negative_amount", "金额不能为负", "must not be negative")
        problems.extend(_check_tiers(book, v, vp))
    return problems


def _check_tiers(book: RuleBook, v: RuleVersion, vp: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[object, ...], str] = {}
    ids: set[str] = set()
    for j, t in enumerate(v.tiers):
        tp = f"{vp}.tiers[{j}]"
        if t.id in ids:
            problems.append(Problem(f"{tp}.id", "duplicate_id", f"档次 {t.id} 重复", f"tier id {t.id} is used twice"))
        ids.add(t.id)
        problems.extend(_check_tier_fields(book, t, tp))
        w = t.when
        # Tiers compete within a group (the whole version under "highest"); a lone tier under "sum" competes
        # with nobody. Two competitors with the same conditions leave the winner to chance.
        arena = None if v.combine == "highest" else (t.group or f"tier:{t.id}")
        key = (arena, w.age_min, w.age_max, frozenset(w.categories_any), frozenset(w.categories_all), t.min_spend)
        if key in seen:
            problems.append(
                Problem(
                    f"{tp}.when",
                    "tiers_ambiguous",
                    f"与档次 {seen[key]} 的适用条件完全相同，无法确定适用哪一档",
                    f"same conditions as tier {seen[key]}: which one applies is ambiguous",
                )
            )
        else:
            seen[key] = t.id
    return problems


def _check_tier_fields(book: RuleBook, t: Tier, tp: str) -> list[Problem]:
    """One tier's own fields: one subsidy kind, amounts, ranges, declared categories."""
    problems: list[Problem] = []
    s = t.subsidy
    chosen = [name for name, on in (("fixed", s.fixed is not None), ("percent", s.percent is not None)) if on]
    if s.free:
        chosen.append("free")
    if len(chosen) != 1:
        problems.append(
            Problem(
                f"{tp}.subsidy",
                "subsidy_kind",
                "补贴须且只能为 fixed（固定金额）、percent（折扣百分比）、free（免费）之一",
                "give exactly one of fixed, percent or free",
            )
        )
    if s.fixed is not None and s.fixed < 0:
        problems.append(Problem(f"{tp}.subsidy.fixed", "negative_amount", "金额不能为负", "must not be negative"))
    if s.percent is not None and not 0 < s.percent <= BASIS_POINTS_100_PERCENT:
        problems.append(
            Problem(
                f"{tp}.subsidy.percent",
                "percent_range",
                "百分比须大于0且不超过100",
                "a percentage must be more than 0 and at most 100",
            )
        )
    if t.min_spend < 0:
        problems.append(Problem(f"{tp}.min_spend", "negative_amount", "金额不能为负", "must not be negative"))
    w = t.when
    if w.age_min is not None and w.age_max is not None and w.age_min > w.age_max:
        problems.append(Problem(f"{tp}.when.age_max", "age_range", "年龄上限小于下限", "age_max is below age_min"))
    for field in ("categories_any", "categories_all"):
        for k, code in enumerate(getattr(w, field)):
            if code not in book.categories:
                problems.append(
                    Problem(
                        f"{tp}.when.{field}[{k}]",
                        "category_undeclared",
                        f"类别 {code} 未在 categories 中声明",
                        f"category {code} is not declared under categories",
                    )
                )
    return problems


def load_rulebook(data: Mapping[str, Any]) -> RuleBook:
    """Validate a parsed rule book; raises :class:`InvalidRuleSet` listing every problem with its field path."""
    try:
        book = RuleBook.model_validate(data)
    except ValidationError as exc:
        raise InvalidRuleSet(problems_from(exc)) from None
    problems = check_rulebook(book)
    if problems:
        raise InvalidRuleSet(problems)
    return book


def parse_rulebook(text: str) -> RuleBook:
    """Parse a rule book from YAML or JSON text (JSON is YAML too)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        raise InvalidRuleSet.one(
            "yaml_syntax",
            f"文件不是有效的 YAML/JSON（{where}）",
            f"not valid YAML/JSON ({where})",
        ) from None
    if not isinstance(data, Mapping):
        raise InvalidRuleSet.one("not_a_mapping", "文件顶层应为键值对象", "the file's top level must be a mapping")
    return load_rulebook(data)
