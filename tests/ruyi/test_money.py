import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruyi.errors import InvalidMoney
from ruyi.money import format_yuan, parse_percent, parse_yuan, percent_of


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("¥12.50", 1250),
        ("￥12.5", 1250),
        ("12", 1200),
        (" 0.01 ", 1),
        ("8元", 800),
        ("-3.20", -320),
        ("0", 0),
        ("100000.99", 10000099),
    ],
)
def test_parse_yuan_is_exact(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "abc", "12.505", "1,200.00", "1e3", "12.", ".5", "¥", "12.5.0", "--1"])
def test_parse_yuan_refuses_what_it_cannot_read_exactly(text: str) -> None:
    with pytest.raises(InvalidMoney) as info:
        parse_yuan(text)
    assert info.value.code == "money.format"
    assert "两位小数" in info.value.problems[0].zh


def test_format_yuan() -> None:
    assert format_yuan(1250) == "¥12.50"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(-300) == "-¥3.00"
    assert format_yuan(1105, symbol=False) == "11.05"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_then_parse_round_trips(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen


def test_percent_of_rounds_half_up_to_the_fen() -> None:
    # The declared rule: basis points, half up. 85% of ¥13.00 is ¥11.05 exactly.
    assert percent_of(1300, 8500) == 1105
    assert percent_of(1300, 1500) == 195
    assert percent_of(999, 1000) == 100  # 99.9 -> 100
    assert percent_of(1005, 1000) == 101  # 100.5 -> 101 (half up)
    assert percent_of(1004, 1000) == 100  # 100.4 -> 100
    assert percent_of(1001, 1500) == 150  # 150.15 -> 150
    assert percent_of(0, 1500) == 0
    assert percent_of(1234, 10000) == 1234


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10000))
def test_percent_of_is_within_half_a_fen(fen: int, bp: int) -> None:
    exact_times_2 = 2 * fen * bp  # twice the exact value, in 1/10000 fen
    assert abs(percent_of(fen, bp) * 20000 - exact_times_2 * 1) <= 10000


@pytest.mark.parametrize(("value", "bp"), [(15, 1500), ("15", 1500), (12.5, 1250), ("12.25%", 1225), (100, 10000)])
def test_parse_percent(value: str | int | float, bp: int) -> None:
    assert parse_percent(value) == bp


@pytest.mark.parametrize("value", ["12.345", "abc", True, float("nan"), "inf"])
def test_parse_percent_refuses(value: object) -> None:
    with pytest.raises(InvalidMoney):
        parse_percent(value)  # type: ignore[arg-type]
