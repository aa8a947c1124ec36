"""Eligible elders per day, counted from each elder's eligible date spans rather than day by day.

The attendance check measures a canteen's subsidised meals per day against its catchment (the server decides who
is in it). Asking :func:`ruyi.eligibility.assess` for every elder on every day costs elders x days; here each
elder's spans are worked out once from what can change eligibility — the status history, the day the elder turns
the version's minimum age, the version's programme areas — and a sweep over the days adds them up. The cost is
elders x (status changes + rule versions in the month) plus days. The answer is the same as the day-by-day one
(:func:`eligible_per_day_slow`, kept as the specification; a property test compares them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import MAXYEAR, date, timedelta

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange, assess
from ruyi.rules import RuleBook, RuleVersion

Span = tuple[date, date | None]
"""From the first date (inclusive) to the second (exclusive; None: open-ended)."""


def enrolled_spans(statuses: Sequence[StatusChange]) -> list[Span]:
    """The spans the elder is enrolled, as :meth:`ElderProfile.status_on` reads the history: the latest change
    on or before a day is in force; among changes on the same date the later one in the list wins."""
    last: dict[date, EnrolmentStatus] = {}
    for change in statuses:
        last[change.effective_from] = change.status
    out: list[Span] = []
    start: date | None = None
    for day in sorted(last):
        enrolled = last[day] == EnrolmentStatus.ENROLLED
        if enrolled and start is None:
            start = day
        elif not enrolled and start is not None:
            out.append((start, day))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def turns(birth_date: date, age: int) -> date | None:
    """The first day the elder is ``age`` whole years old (a 29 February birthday falls on 1 March in common
    years), as :func:`ruyi.eligibility.age_on` counts; None beyond the calendar."""
    year = birth_date.year + age
    if year > MAXYEAR:
        return None
    try:
        return birth_date.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 3, 1)


def _segments(book: RuleBook, first: date, end: date) -> list[tuple[date, date, RuleVersion]]:
    """The runs of days in [first, end) under one version in force (days without one are left out)."""
    out: list[tuple[date, date, RuleVersion]] = []
    day = first
    while day < end:
        version = book.version_on(day)
        if version is not None:
            if out and out[-1][2] is version and out[-1][1] == day:
                out[-1] = (out[-1][0], day + timedelta(days=1), version)
            else:
                out.append((day, day + timedelta(days=1), version))
        day += timedelta(days=1)
    return out


def eligible_per_day(profiles: Iterable[ElderProfile], book: RuleBook, first: date, end: date) -> dict[date, int]:
    """How many of ``profiles`` are eligible on each day in [first, end) under the version then in force (status
    enrolled, in the version's areas, at least its minimum age); days without a version in force have no figure."""
    segments = _segments(book, first, end)
    diff = [0] * ((end - first).days + 1)
    for p in profiles:
        spans = enrolled_spans(p.statuses)
        if not spans:
            continue
        for seg_from, seg_end, version in segments:
            if version.areas and p.area not in version.areas:
                continue
            of_age = turns(p.birth_date, version.min_age)
            if of_age is None:
                continue
            lo = max(seg_from, of_age)
            for a, b in spans:
                x, y = max(lo, a), seg_end if b is None else min(seg_end, b)
                if x < y:
                    diff[(x - first).days] += 1
                    diff[(y - first).days] -= 1
    running, counts = 0, []
    for change in diff:
        running += change
        counts.append(running)
    return {
        seg_from + timedelta(days=i): counts[(seg_from - first).days + i]
        for seg_from, seg_end, _ in segments
        for i in range((seg_end - seg_from).days)
    }


def eligible_per_day_slow(profiles: Sequence[ElderProfile], book: RuleBook, first: date, end: date) -> dict[date, int]:
    """The specification: every elder assessed on every day (elders x days)."""
    out: dict[date, int] = {}
    day = first
    while day < end:
        version = book.version_on(day)
        if version is not None:
            out[day] = sum(assess(p, day, version).eligible for p in profiles)
        day += timedelta(days=1)
    return out
