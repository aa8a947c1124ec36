"""Small builders for domain objects used across the ruyi tests."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.pricing import MealRequest, PriorMeal
from ruyi.rules import RuleBook, Slot, parse_rulebook

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "rules"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ENROLLED_LONG_AGO = date(2000, 1, 1)


def book(name: str) -> RuleBook:
    return parse_rulebook((RULES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def elder(
    born: date,
    *cats: tuple[str, date, date | None],
    status: tuple[tuple[EnrolmentStatus, date], ...] = ((EnrolmentStatus.ENROLLED, ENROLLED_LONG_AGO),),
    area: str | None = None,
) -> ElderProfile:
    return ElderProfile(
        elder_id="e1",
        birth_date=born,
        area=area,
        statuses=tuple(StatusChange(status=s, effective_from=d) for s, d in status),
        categories=tuple(CategorySpan(code=c, valid_from=f, valid_to=t) for c, f, t in cats),
    )


def cat(code: str, since: date = ENROLLED_LONG_AGO, until: date | None = None) -> tuple[str, date, date | None]:
    return (code, since, until)


def at(text: str) -> datetime:
    """'2023-06-15 12:00' in Shanghai time, or any ISO text with an offset."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def meal(when: str, price: int, slot: Slot = "lunch", canteen: str = "c1") -> MealRequest:
    return MealRequest(canteen_id=canteen, slot=slot, price=price, service_time=at(when))


def prior(when: str, slot: Slot = "lunch", canteen: str = "c2", subsidised: bool = True) -> PriorMeal:
    return PriorMeal(service_time=at(when), slot=slot, canteen_id=canteen, subsidised=subsidised)
