"""One unit, strictly: a money field of a contract (:class:`ruyi.money.FenRange`) takes an ``int`` of fen and
nothing else. Text, floats and booleans are refused (lax pydantic would read "5.00" as 5 fen and ``true`` as 1 fen),
and so is an amount out of range; both messages say the unit in Chinese and English. The sync contract's money
fields (menu prices, the quote a terminal sends with every meal, the Z-report totals) are such fields."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from ruyi.meal import MealRecord
from ruyi.money import FEN_UNIT_KEY, INT4_MAX, MEAL_PRICE_CEILING, FenRange, MealPrice, StrictFen
from ruyi.sync import MenuItem, ZReportIn
from tests.ruyi.test_meal import a_quote, fields

HINT_ZH = "金额以分为单位的整数：¥11.00 应写作 1100"
HINT_EN = "amounts are integer fen: ¥11.00 is 1100"
NOT_FEN: list[Any] = ["11.00", "500", "1100", 11.0, 1100.0, True, False, None, [1100], {"fen": 1100}]


def _errors(exc: ValidationError) -> list[tuple[tuple[Any, ...], str, str, str]]:
    return [(tuple(e["loc"]), e["type"], e["ctx"]["zh"], e["ctx"]["en"]) for e in exc.errors() if e.get("ctx")]


def _refused(validate: Any, value: Any, code: str) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        validate(value)
    (err,) = info.value.errors()
    assert err["type"] == code
    zh, en = err["ctx"]["zh"], err["ctx"]["en"]
    assert HINT_ZH in zh and HINT_EN in en
    return zh, en


@pytest.mark.parametrize("mode", ["python", "json"])
@pytest.mark.parametrize("value", NOT_FEN, ids=repr)
def test_anything_but_an_int_is_refused_and_the_message_says_fen(mode: str, value: Any) -> None:
    adapter = TypeAdapter(StrictFen)
    validate = adapter.validate_python if mode == "python" else lambda v: adapter.validate_json(json.dumps(v))
    _refused(validate, value, "money.fen_type")


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [(StrictFen, 0, INT4_MAX), (MealPrice, 0, MEAL_PRICE_CEILING), (Annotated[int, FenRange(-50, 70)], -50, 70)],
)
def test_bounds_are_inclusive_and_refused_outside_with_the_range_in_both_languages(
    kind: Any, low: int, high: int
) -> None:
    adapter = TypeAdapter(kind)
    assert adapter.validate_python(low) == low
    assert adapter.validate_python(high) == high
    assert adapter.validate_json(str(high)) == high
    for value in (low - 1, high + 1):
        zh, en = _refused(adapter.validate_python, value, "money.fen_range")
        assert f"{low} 至 {high} 分" in zh
        assert f"{low} to {high} fen" in en


def test_the_json_schema_says_integer_fen_and_the_bounds() -> None:
    class Body(BaseModel):
        price: MealPrice
        amount: Annotated[int, FenRange(-9, 9)] = Field(description="signed integer fen (分)")

    props = Body.model_json_schema()["properties"]
    assert props["price"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": MEAL_PRICE_CEILING,
        "title": "Price",
        "description": "integer fen (分): ¥11.00 is 1100",
        FEN_UNIT_KEY: "fen",
    }
    assert (props["amount"]["minimum"], props["amount"]["maximum"], props["amount"][FEN_UNIT_KEY]) == (-9, 9, "fen")
    assert "fen" in props["amount"]["description"]


# -- the sync contract ------------------------------------------------------------------------------------------


def _menu(**over: Any) -> dict[str, Any]:
    return {"id": "m1", "name": "午餐", "price": 1100, "slot": "lunch", "valid_from": "2026-01-01"} | over


def _z(**over: Any) -> dict[str, Any]:
    base = {
        "terminal_id": "T-001",
        "canteen_id": "c01",
        "day": "2026-03-02",
        "made_at": "2026-03-02T21:00:00+08:00",
        "meals": 2,
        "voids": 0,
        "price_total": 2400,
        "subsidy_total": 1000,
        "elder_pays_total": 1400,
    }
    return base | over


@pytest.mark.parametrize("value", ["11.00", 11.0, True, -1, MEAL_PRICE_CEILING + 1], ids=repr)
def test_a_menu_item_price_is_strict_fen(value: Any) -> None:
    assert MenuItem.model_validate_json(json.dumps(_menu())).price == 1100
    with pytest.raises(ValidationError) as info:
        MenuItem.model_validate_json(json.dumps(_menu(price=value)))
    assert [(loc, code) for loc, code, *_ in _errors(info.value)] == [
        (("price",), "money.fen_type" if type(value) is not int else "money.fen_range")
    ]


@pytest.mark.parametrize("field", ["price_total", "subsidy_total", "elder_pays_total"])
@pytest.mark.parametrize("value", ["24.00", 2400.0, True, -1, INT4_MAX + 1], ids=repr)
def test_z_report_totals_are_strict_fen(field: str, value: Any) -> None:
    assert ZReportIn.model_validate_json(json.dumps(_z())).price_total == 2400
    with pytest.raises(ValidationError) as info:
        ZReportIn.model_validate_json(json.dumps(_z(**{field: value})))
    codes = {(loc, code) for loc, code, *_ in _errors(info.value)}
    assert ((field,), "money.fen_type" if type(value) is not int else "money.fen_range") in codes


@pytest.mark.parametrize("field", ["price", "subsidy", "elder_pays", "operating_subsidy"])
@pytest.mark.parametrize("value", ["5.00", 500.0, True], ids=repr)
def test_a_meal_record_with_a_quote_amount_that_is_not_an_int_is_refused(field: str, value: Any) -> None:
    """A terminal sending a float is a bug: the push is refused, never rounded into fen."""
    data = json.loads(MealRecord(**fields()).model_dump_json())
    assert MealRecord.model_validate(data).quote == a_quote()
    data["quote"][field] = value
    for mode in ("python", "json"):
        with pytest.raises(ValidationError) as info:
            if mode == "python":
                MealRecord.model_validate(data)
            else:
                MealRecord.model_validate_json(json.dumps(data))
        assert (("quote", field), "money.fen_type") in {(loc, code) for loc, code, *_ in _errors(info.value)}


def test_a_quote_price_above_the_ceiling_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        a_quote(price=MEAL_PRICE_CEILING + 1, subsidy=0)
    assert {code for _loc, code, *_ in _errors(info.value)} == {"money.fen_range"}


def test_a_proper_record_still_round_trips_exactly() -> None:
    record = MealRecord(**fields())
    again = MealRecord.model_validate_json(record.model_dump_json())
    assert again == record
    assert type(again.quote.price) is int and again.quote.price == 1200
