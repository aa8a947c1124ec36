from __future__ import annotations

from hypothesis import given, settings

from ruyi.eligibility import ElderProfile
from ruyi.pricing import MealRequest, PriorMeal, quote
from ruyi.redact import profile_for_terminal, rulebook_for_terminal, token
from ruyi.rules import RuleBook
from tests.ruyi.factories import book
from tests.ruyi.test_pricing_properties import elders, histories, meals, rulebooks

KEY = b"k" * 32


def test_no_category_code_or_name_is_left() -> None:
    original = book("ruyi-city")
    redacted = rulebook_for_terminal(original, KEY).model_dump_json()
    for code, name in original.categories.items():
        assert f'"{code}"' not in redacted
        assert name not in redacted
    assert "低保" not in redacted and "特困" not in redacted
    assert '"age60"' in redacted  # tiers that name no category keep their id and label


@settings(max_examples=300)
@given(rulebooks(), elders(), meals, histories)
def test_redacted_quotes_price_the_same(rules: RuleBook, who: ElderProfile, m: MealRequest, h: list[PriorMeal]) -> None:
    plain = quote(who, m, h, rules)
    hidden = quote(profile_for_terminal(who, KEY), m, h, rulebook_for_terminal(rules, KEY))
    assert (hidden.subsidy, hidden.operating_subsidy, hidden.reasons) == (
        plain.subsidy,
        plain.operating_subsidy,
        plain.reasons,
    )
    by_category = {t.id for v in rules.versions for t in v.tiers if t.when.categories_any or t.when.categories_all}
    assert hidden.tiers == tuple(token(KEY, "t", t) if t in by_category else t for t in plain.tiers)


def test_tokens_depend_on_the_key() -> None:
    assert token(KEY, "c", "dibao") == token(KEY, "c", "dibao")
    assert token(KEY, "c", "dibao") != token(b"other", "c", "dibao")
    assert token(KEY, "c", "dibao") != token(KEY, "t", "dibao")
