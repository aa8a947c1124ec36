"""Who is eligible on a date: age in whole years (周岁), enrolment status and categories, each dated."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from pydantic import Field

from ruyi._model import Frozen
from ruyi.reasons import Reason
from ruyi.rules import RuleVersion


class EnrolmentStatus(enum.StrEnum):
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    DECEASED = "deceased"


class StatusChange(Frozen):
    """From ``effective_from`` (inclusive) the elder's status is ``status``, until the next change."""

    status: EnrolmentStatus
    effective_from: date


class CategorySpan(Frozen):
    """A category (a code from the rule book's list) held from ``valid_from`` to ``valid_to`` inclusive."""

    code: str = Field(min_length=1, max_length=64)
    valid_from: date
    valid_to: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class ElderProfile(Frozen):
    """What pricing needs to know about an elder. Carries no ID number and no name."""

    elder_id: str = Field(min_length=1)
    birth_date: date
    area: str | None = None
    statuses: tuple[StatusChange, ...] = ()
    categories: tuple[CategorySpan, ...] = ()

    def status_on(self, day: date) -> EnrolmentStatus | None:
        """The status in force on ``day``; None before the first enrolment. Among changes on the same
        date the later one in the list wins."""
        current: tuple[date, EnrolmentStatus] | None = None
        for change in self.statuses:
            if change.effective_from <= day and (current is None or change.effective_from >= current[0]):
                current = (change.effective_from, change.status)
        return None if current is None else current[1]

    def categories_on(self, day: date) -> frozenset[str]:
        return frozenset(c.code for c in self.categories if c.holds_on(day))


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years (周岁) on ``day``: it goes up on the birthday itself. Someone born on 29 February
    turns a year older on 1 March in common years (their birthday has not passed until 28 February ends)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


# When several things stand in the way, the first of these is the headline.
_STATUS_REASON = {
    EnrolmentStatus.DECEASED: Reason.DECEASED,
    EnrolmentStatus.CANCELLED: Reason.CANCELLED,
    EnrolmentStatus.SUSPENDED: Reason.SUSPENDED,
}


@dataclass(frozen=True, slots=True)
class Eligibility:
    day: date
    age: int
    status: EnrolmentStatus | None
    categories: frozenset[str]
    reasons: tuple[Reason, ...]
    """Empty when eligible; otherwise every reason that blocks a subsidy, headline first."""

    @property
    def eligible(self) -> bool:
        return not self.reasons


def assess(elder: ElderProfile, day: date, version: RuleVersion) -> Eligibility:
    """Eligibility of ``elder`` on ``day`` under ``version`` (tiers decide amounts later)."""
    status = elder.status_on(day)
    age = age_on(elder.birth_date, day)
    reasons: list[Reason] = []
    if status is None:
        reasons.append(Reason.NOT_ENROLLED)
    elif status in _STATUS_REASON:
        reasons.append(_STATUS_REASON[status])
    if version.areas and elder.area not in version.areas:
        reasons.append(Reason.OUTSIDE_AREA)
    if age < version.min_age:
        reasons.append(Reason.UNDER_AGE)
    return Eligibility(day=day, age=age, status=status, categories=elder.categories_on(day), reasons=tuple(reasons))
