"""Rule books that the engine must refuse, each with the field path and the reason."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from ruyi.errors import InvalidRuleSet
from ruyi.rules import load_rulebook, parse_rulebook
from tests.ruyi.factories import RULES_DIR

GOOD: dict[str, Any] = {
    "format": 1,
    "programme": "test",
    "name": "测试",
    "categories": {"dibao": "低保"},
    "versions": [
        {
            "id": "v1",
            "effective_from": "2026-01-01",
            "subsidised_slots": ["lunch"],
            "tiers": [
                {"id": "age60", "label": "60+", "when": {"age_min": 60}, "subsidy": {"fixed": "2.00"}},
                {"id": "dibao", "label": "低保", "when": {"categories_any": ["dibao"]}, "subsidy": {"percent": 50}},
            ],
        },
        {
            "id": "v2",
            "effective_from": "2026-07-01",
            "subsidised_slots": ["lunch", "dinner"],
            "tiers": [{"id": "age60", "label": "60+", "subsidy": {"fixed": "3.00"}}],
        },
    ],
}


def broken(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one value replaced; path like 'versions.0.tiers.1.subsidy'."""
    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRuleSet) as info:
        load_rulebook(data)
    for p in info.value.problems:
        assert p.zh and p.en  # every problem can be told in both languages
    return [(p.path, p.code) for p in info.value.problems]


def test_the_good_book_loads_and_the_shipped_ones_too() -> None:
    assert [v.id for v in load_rulebook(GOOD).versions] == ["v1", "v2"]
    shipped = sorted(RULES_DIR.glob("*.yaml"))
    assert len(shipped) == 4
    for f in shipped:
        parse_rulebook(f.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("versions.0.effective_to", "2026-07-15", ("versions[1].effective_from", "versions_overlap")),
        ("versions.1.effective_from", "2026-01-01", ("versions[1].effective_from", "versions_unsorted")),
        ("versions.0.effective_to", "2025-12-01", ("versions[0].effective_to", "dates_reversed")),
        ("versions.0.tiers.0.subsidy", {"fixed": "-1.00"}, ("versions[0].tiers[0].subsidy.fixed", "negative_amount")),
        ("versions.0.tiers.1.subsidy", {"percent": 120}, ("versions[0].tiers[1].subsidy.percent", "percent_range")),
        ("versions.0.tiers.1.subsidy", {"percent": 0}, ("versions[0].tiers[1].subsidy.percent", "percent_range")),
        ("versions.0.tiers.1.subsidy", {"percent": "ten"}, ("versions[0].tiers[1].subsidy.percent", "percent_format")),
        ("versions.0.tiers.0.subsidy", {"fixed": 8.0}, ("versions[0].tiers[0].subsidy.fixed", "money_type")),
        ("versions.0.tiers.0.subsidy", {"fixed": "8.001"}, ("versions[0].tiers[0].subsidy.fixed", "money_format")),
        ("versions.0.tiers.0.subsidy", {}, ("versions[0].tiers[0].subsidy", "subsidy_kind")),
        (
            "versions.0.tiers.0.subsidy",
            {"fixed": "1.00", "percent": 10},
            ("versions[0].tiers[0].subsidy", "subsidy_kind"),
        ),
        ("versions.0.subsidised_slots", ["brunch"], ("versions[0].subsidised_slots[0]", "literal_error")),
        ("versions.0.subsidised_slots", [], ("versions[0].subsidised_slots", "too_short")),
        ("versions.0.tiers", [], ("versions[0].tiers", "too_short")),
        ("versions", [], ("versions", "too_short")),
        (
            "versions.0.tiers.1.when",
            {"categories_any": ["shidu"]},
            ("versions[0].tiers[1].when.categories_any[0]", "category_undeclared"),
        ),
        ("versions.0.tiers.0.when", {"age_min": 80, "age_max": 70}, ("versions[0].tiers[0].when.age_max", "age_range")),
        ("versions.0.tiers.0.when", {"age_min": -1}, ("versions[0].tiers[0].when.age_min", "greater_than_equal")),
        ("versions.0.tiers.0.id", "dibao", ("versions[0].tiers[1].id", "duplicate_id")),
        ("versions.1.id", "v1", ("versions[1].id", "duplicate_id")),
        ("versions.0.min_copay", "-2.00", ("versions[0].min_copay", "negative_amount")),
        ("versions.0.limits", {"per_day": 0}, ("versions[0].limits.per_day", "greater_than_equal")),
        ("versions.0.combine", "average", ("versions[0].combine", "literal_error")),
        (
            "versions.0.operating",
            {"basis": "meal", "amount": "-3.00"},
            ("versions[0].operating.amount", "negative_amount"),
        ),
        ("versions.0.effective_from", "2026-02-30", ("versions[0].effective_from", "date_from_datetime_parsing")),
        ("format", 2, ("format", "literal_error")),
        ("timezone", "Mars/Olympus", ("timezone", "timezone_unknown")),
        ("programme", "Has Spaces", ("programme", "string_pattern_mismatch")),
    ],
)
def test_each_bad_value_is_named_by_its_field_path(path: str, value: Any, expected: tuple[str, str]) -> None:
    assert expected in problems(broken(path, value))


def test_an_unknown_field_is_refused_not_ignored() -> None:
    data = broken("versions.0.tiers.0.subsidy", {"fixd": "2.00"})
    assert ("versions[0].tiers[0].subsidy.fixd", "extra_forbidden") in problems(data)


def test_ambiguous_tiers_under_highest_wins() -> None:
    tiers = copy.deepcopy(GOOD["versions"][0]["tiers"])
    tiers.append({"id": "again", "label": "60+ again", "when": {"age_min": 60}, "subsidy": {"fixed": "5.00"}})
    assert ("versions[0].tiers[2].when", "tiers_ambiguous") in problems(broken("versions.0.tiers", tiers))


def test_same_conditions_in_different_groups_add_up_and_are_not_ambiguous() -> None:
    v = broken("versions.0.combine", "sum")
    v["versions"][0]["tiers"] = [
        {"id": "city", "label": "市级", "group": "city", "subsidy": {"fixed": "2.00"}},
        {"id": "district", "label": "区级", "group": "district", "subsidy": {"fixed": "1.00"}},
    ]
    assert load_rulebook(v).versions[0].combine == "sum"
    v["versions"][0]["tiers"][1]["group"] = "city"
    assert ("versions[0].tiers[1].when", "tiers_ambiguous") in problems(v)


def test_every_problem_is_reported_at_once() -> None:
    data = broken("versions.0.tiers.0.subsidy", {"fixed": "-1.00"})
    data["versions"][0]["effective_to"] = "2026-08-01"
    found = problems(data)
    assert ("versions[0].tiers[0].subsidy.fixed", "negative_amount") in found
    assert ("versions[1].effective_from", "versions_overlap") in found


def test_messages_are_in_chinese_with_english_available() -> None:
    with pytest.raises(InvalidRuleSet) as info:
        load_rulebook(broken("versions.0.subsidised_slots", ["brunch"]))
    p = info.value.problems[0]
    assert "取值必须是" in p.zh and "breakfast" in p.zh
    assert "Input should be" in p.en


def test_yaml_syntax_errors_name_the_line() -> None:
    with pytest.raises(InvalidRuleSet) as info:
        parse_rulebook("format: 1\nversions: [\n  - id: x\n")
    assert info.value.code == "yaml_syntax"
    assert "line" in info.value.problems[0].en
    with pytest.raises(InvalidRuleSet) as info:
        parse_rulebook("- just\n- a list\n")
    assert info.value.code == "not_a_mapping"


def test_which_version_is_in_force() -> None:
    data = broken("versions.0.effective_to", "2026-05-31")  # a gap in June
    rules = load_rulebook(data)
    assert rules.version_on(date(2025, 12, 31)) is None
    assert rules.version_on(date(2026, 1, 1)).id == "v1"  # type: ignore[union-attr]
    assert rules.version_on(date(2026, 5, 31)).id == "v1"  # type: ignore[union-attr]
    assert rules.version_on(date(2026, 6, 15)) is None
    assert rules.version_on(date(2026, 7, 1)).id == "v2"  # type: ignore[union-attr]
    assert rules.version_on(date(2030, 1, 1)).id == "v2"  # type: ignore[union-attr]
    assert rules.end_of(0) == date(2026, 5, 31)
    assert load_rulebook(GOOD).end_of(0) == date(2026, 6, 30)
    assert rules.end_of(1) is None


def test_round_trip_through_json_keeps_amounts_exact() -> None:
    rules = load_rulebook(GOOD)
    again = load_rulebook(rules.model_dump(mode="json"))
    assert again == rules
    dumped = rules.model_dump(mode="json")
    assert dumped["versions"][0]["tiers"][0]["subsidy"]["fixed"] == "2.00"
    assert dumped["versions"][0]["tiers"][1]["subsidy"]["percent"] == "50"
