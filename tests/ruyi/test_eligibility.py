from datetime import date

import pytest

from ruyi.eligibility import EnrolmentStatus as S
from ruyi.eligibility import age_on, assess
from ruyi.reasons import Reason as R
from tests.ruyi.factories import ENROLLED_LONG_AGO, book, cat, elder


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(1966, 6, 15), date(2026, 6, 14), 59),
        (date(1966, 6, 15), date(2026, 6, 15), 60),  # 60周岁 on the birthday itself
        (date(1966, 12, 31), date(2026, 12, 31), 60),
        (date(1967, 1, 1), date(2026, 12, 31), 59),
        (date(1964, 2, 29), date(2024, 2, 28), 59),
        (date(1964, 2, 29), date(2024, 2, 29), 60),
        (date(1964, 2, 29), date(2025, 2, 28), 60),
        (date(1966, 2, 28), date(2026, 2, 28), 60),
        (date(1964, 2, 29), date(2026, 2, 28), 61),
        (date(1966, 2, 28), date(2026, 2, 27), 59),
        (date(1966, 2, 29 - 1), date(2026, 3, 1), 60),
    ],
)
def test_age_in_whole_years(born: date, day: date, age: int) -> None:
    assert age_on(born, day) == age


def test_29_february_turns_older_on_1_march_in_common_years() -> None:
    born = date(1956, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 69
    assert age_on(born, date(2026, 3, 1)) == 70


def test_status_history_and_categories_on_a_date() -> None:
    rules = book("ruyi-city").versions[0]
    history = (
        (S.ENROLLED, ENROLLED_LONG_AGO),
        (S.SUSPENDED, date(2026, 3, 1)),
        (S.ENROLLED, date(2026, 4, 1)),
        (S.DECEASED, date(2026, 5, 10)),
    )
    who = elder(date(1950, 1, 1), cat("dibao", date(2026, 3, 15), date(2026, 3, 31)), status=history)
    assert assess(who, date(2026, 2, 28), rules).eligible
    march = assess(who, date(2026, 3, 20), rules)
    assert (march.status, march.reasons, march.categories) == (S.SUSPENDED, (R.SUSPENDED,), frozenset({"dibao"}))
    april = assess(who, date(2026, 4, 1), rules)
    assert april.eligible and april.categories == frozenset()
    assert assess(who, date(2026, 5, 9), rules).eligible
    assert assess(who, date(2026, 5, 10), rules).reasons == (R.DECEASED,)


def test_never_enrolled_and_before_enrolment() -> None:
    rules = book("ruyi-city").versions[0]
    later = elder(date(1950, 1, 1), status=((S.ENROLLED, date(2026, 5, 1)),))
    assert assess(later, date(2026, 4, 30), rules).reasons == (R.NOT_ENROLLED,)
    assert assess(later, date(2026, 5, 1), rules).eligible


def test_programme_area() -> None:
    version = book("ruyi-city").versions[0].model_copy(update={"areas": ("320102", "320104")})
    inside = elder(date(1950, 1, 1), area="320104")
    outside = elder(date(1950, 1, 1), area="320105")
    unknown = elder(date(1950, 1, 1))
    assert assess(inside, date(2026, 3, 1), version).eligible
    assert assess(outside, date(2026, 3, 1), version).reasons == (R.OUTSIDE_AREA,)
    assert assess(unknown, date(2026, 3, 1), version).reasons == (R.OUTSIDE_AREA,)
