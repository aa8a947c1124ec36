"""The catchment count by eligible spans gives, on random registries and rule books, the same figure per day as
assessing every elder on every day."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange, age_on
from ruyi.rules import RuleBook
from ruyi.settlement.catchment import eligible_per_day, eligible_per_day_slow, enrolled_spans, turns
from tests.ruyi.factories import book

CITY = book("ruyi-city")
FIRST = date(2024, 2, 1)
END = date(2024, 3, 1)
"""A leap February: 29 February birthdays and the month's last day both matter."""
AREAS = ["320101", "320102", "320103"]

days = st.dates(min_value=FIRST - timedelta(days=40), max_value=END + timedelta(days=40))
statuses = st.lists(
    st.builds(StatusChange, status=st.sampled_from(list(EnrolmentStatus)), effective_from=days), max_size=5
)
profiles = st.builds(
    ElderProfile,
    elder_id=st.just("e"),
    # Birthdays around the minimum ages below, 29 February included (leap and common years around it).
    birth_date=st.dates(min_value=date(1950, 1, 1), max_value=date(1968, 12, 31))
    | st.sampled_from([date(1964, 2, 29), date(1960, 2, 29), date(1964, 3, 1), date(1964, 2, 28)]),
    area=st.none() | st.sampled_from(AREAS),
    statuses=statuses.map(tuple),
)


@st.composite
def books(draw: st.DrawFn) -> RuleBook:
    """The city book's first version cut into up to three versions around the month, with their own minimum ages
    and areas, maybe with a gap (days without a version in force)."""
    base = CITY.versions[0]
    cuts = sorted(draw(st.sets(st.integers(1, 27), max_size=2)))
    starts = [FIRST - timedelta(days=60), *(FIRST + timedelta(days=c) for c in cuts)]
    versions = []
    for n, start in enumerate(starts):
        nxt = starts[n + 1] if n + 1 < len(starts) else None
        gap = draw(st.integers(0, 3)) if nxt is not None else 0
        end = None if nxt is None else nxt - timedelta(days=1 + gap)
        if end is None and draw(st.booleans()):
            end = FIRST + timedelta(days=draw(st.integers(20, 40)))
        versions.append(
            base.model_copy(
                update={
                    "id": f"v{n}",
                    "effective_from": start,
                    "effective_to": end,
                    "min_age": draw(st.sampled_from([0, 55, 60, 65])),
                    "areas": tuple(draw(st.sets(st.sampled_from(AREAS), max_size=2))),
                }
            )
        )
    return CITY.model_copy(update={"versions": tuple(versions)})


@settings(max_examples=300, deadline=None)
@given(registry=st.lists(profiles, max_size=12), rules=books())
def test_spans_count_as_every_day_assessed(registry: list[ElderProfile], rules: RuleBook) -> None:
    assert eligible_per_day(registry, rules, FIRST, END) == eligible_per_day_slow(registry, rules, FIRST, END)


@given(profile=profiles, day=days)
def test_enrolled_spans_read_the_history_as_status_on(profile: ElderProfile, day: date) -> None:
    inside = any(a <= day and (b is None or day < b) for a, b in enrolled_spans(profile.statuses))
    assert inside == (profile.status_on(day) == EnrolmentStatus.ENROLLED)


@given(born=st.dates(min_value=date(1900, 1, 1), max_value=date(2000, 12, 31)), age=st.integers(0, 100))
def test_turns_is_the_first_day_of_that_age(born: date, age: int) -> None:
    first = turns(born, age)
    assert first is not None
    assert age_on(born, first) == age
    assert age_on(born, first - timedelta(days=1)) < age


def test_a_month_without_any_version_has_no_figures() -> None:
    assert eligible_per_day([], CITY, date(1990, 1, 1), date(1990, 2, 1)) == {}
