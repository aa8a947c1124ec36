from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruyi.errors import InvalidResidentId
from ruyi.idnum import Sex, check_char, make_resident_id, mask_id, mask_name, parse_resident_id


@pytest.mark.parametrize(
    ("number", "born", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), Sex.FEMALE),  # the GB 11643 example, ends in X
        ("11010519491231002x", date(1949, 12, 31), Sex.FEMALE),  # lower-case x accepted
        ("440524188001010014", date(1880, 1, 1), Sex.MALE),
    ],
)
def test_valid_numbers_give_birth_date_and_sex(number: str, born: date, sex: Sex) -> None:
    rid = parse_resident_id(number)
    assert rid.number == number.upper()
    assert rid.birth_date == born
    assert rid.sex is sex
    assert rid.region == number[:6]


def test_leap_day_birth_is_valid_only_in_leap_years() -> None:
    ok = make_resident_id("320102", date(1952, 2, 29), 1, Sex.MALE)
    assert parse_resident_id(ok).birth_date == date(1952, 2, 29)
    bad17 = "32010219530229001"
    with pytest.raises(InvalidResidentId) as info:
        parse_resident_id(bad17 + check_char(bad17))
    assert info.value.code == "id.birth_date"


@pytest.mark.parametrize(
    ("number", "code", "words"),
    [
        ("11010519491231002", "id.length", "18位"),
        ("11010519491231002X1", "id.length", "18位"),
        ("1101051949123100AX", "id.characters", "数字"),
        ("11010519491231002Y", "id.characters", "数字"),
        ("１１０１０５１９４９１２３１００２X", "id.characters", "数字"),  # full-width digits
        ("990105194912310021", "id.region", "地区码"),
        ("110000194912310021", "id.region", "地区码"),
        ("110105194913310021", "id.birth_date", "出生日期"),
        ("110105187912310021", "id.birth_date", "出生日期"),
        ("110105194912310021", "id.check_char", "校验码"),
    ],
)
def test_each_kind_of_invalid_number_says_what_is_wrong(number: str, code: str, words: str) -> None:
    with pytest.raises(InvalidResidentId) as info:
        parse_resident_id(number)
    assert info.value.code == code
    assert words in info.value.problems[0].zh
    assert info.value.problems[0].en


def test_repr_never_shows_the_full_number() -> None:
    rid = parse_resident_id("11010519491231002X")
    assert "11010519491231002X" not in repr(rid)
    assert rid.masked == "1101**********002X"


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(min_value=0, max_value=99),
    st.sampled_from(list(Sex)),
)
def test_made_numbers_parse_back(born: date, seq: int, sex: Sex) -> None:
    number = make_resident_id("320104", born, seq, sex)
    rid = parse_resident_id(number)
    assert (rid.birth_date, rid.sex) == (born, sex)


@given(st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_is_caught(pos: int, delta: int) -> None:
    number = make_resident_id("320104", date(1950, 6, 15), 12, Sex.FEMALE)
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    with pytest.raises(InvalidResidentId):
        parse_resident_id(changed)


def test_mask_id_keeps_at_most_four_and_four() -> None:
    assert mask_id("11010519491231002X") == "1101**********002X"
    assert mask_id("002X") == "0**X"  # a partial number keeps less, so at least half is hidden
    assert mask_id("12345678") == "12****78"
    assert mask_id("123") == "***"
    assert mask_id("") == ""


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("张三丰", "张*丰"), ("欧阳娜娜", "欧**娜"), (" 李四 ", "李*"), ("王", "*"), ("", "")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked
