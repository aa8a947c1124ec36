"""Pull: a full resync, then deltas since the cursor; revocations and cancellations; paging; nothing of another
canteen's menu, and no ID number, name or category anywhere in what a terminal receives."""

from __future__ import annotations

from typing import Any

from ruyi.sync import PullResponse, card_key_digest
from tests.server.conftest import CARD_SECRET, Api
from tests.server.helpers import CITY_RULES, elder, id_number
from tests.server.sync.helpers import PULL, Term, World


def pull(world: World, term: Term, cursor: str | None = None) -> dict[str, Any]:
    params = {"protocol": "1", **({"cursor": cursor} if cursor else {})}
    r = world.api.client.get(PULL, headers=term.headers, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    PullResponse.model_validate(body)  # the terminal's side of the contract reads it
    return body


def test_full_resync_then_deltas(api: Api, world: World) -> None:
    full = pull(world, world.ta)
    assert full["full"] is True and full["more"] is False
    assert {e["elder_id"] for e in full["roster"]} == set(world.elders)  # every elder, whichever canteen
    entry = next(e for e in full["roster"] if e["elder_id"] == world.elders[0])
    assert entry["cards"] == [world.cards[world.elders[0]]]
    assert entry["masked_name"] == "张*丰" and len(entry["id_tail"]) == 4
    assert {m["id"] for m in full["menu"]} == {world.items[(world.canteen_a, s)][0] for s in ("lunch", "dinner")}
    assert full["rules"]["programme"] == "ruyi-city"
    assert full["offline_policy"] == {"max_offline_hours": 24, "warn_minutes": 60}

    quiet = pull(world, world.ta, full["cursor"])
    assert quiet["full"] is False
    assert (quiet["roster"], quiet["removed_elders"], quiet["revoked_cards"]) == ([], [], [])
    assert quiet["menu"] is None and quiet["rules"] is None

    newcomer = elder(api, 40, enrolled_on="2026-01-01")
    api.ok("POST", f"/api/v1/canteens/{world.canteen_b}/menu-items", api.admin, 201, json=_item("乙店新菜"))
    delta = pull(world, world.ta, quiet["cursor"])
    assert [e["elder_id"] for e in delta["roster"]] == [newcomer["id"]]
    assert delta["menu"] is None  # another canteen's menu changed: nothing for this terminal

    api.ok("POST", f"/api/v1/canteens/{world.canteen_a}/menu-items", api.admin, 201, json=_item("甲店新菜"))
    menu = pull(world, world.ta, delta["cursor"])
    assert menu["menu"] is not None and "甲店新菜" in {m["name"] for m in menu["menu"]}
    assert "乙店新菜" not in str(menu) and "乙店新菜" not in str(full)


def test_each_canteen_gets_its_own_offline_policy(api: Api, world: World) -> None:
    full = pull(world, world.ta)
    api.ok(
        "PATCH",
        f"/api/v1/canteens/{world.canteen_a}",
        api.admin,
        json={"offline_hours": 48, "offline_warn_minutes": 90},
    )
    delta = pull(world, world.ta, full["cursor"])
    assert delta["offline_policy"] == {"max_offline_hours": 48, "warn_minutes": 90}
    assert pull(world, world.tb)["offline_policy"] == {"max_offline_hours": 24, "warn_minutes": 60}  # B: defaults


def test_revocation_and_cancellation_arrive_as_deltas(api: Api, world: World) -> None:
    cursor = pull(world, world.ta)["cursor"]
    who = world.elders[0]
    card = api.ok("GET", f"/api/v1/elders/{who}/cards", api.operator)[0]
    api.ok(
        "POST",
        f"/api/v1/cards/{card['id']}/revoke",
        api.operator,
        json={"revoked_on": card["bound_on"], "reason": "挂失"},
    )
    delta = pull(world, world.ta, cursor)
    assert delta["revoked_cards"] == [card_key_digest(CARD_SECRET.encode(), "uid", card["serial"])]
    assert [(e["elder_id"], e["cards"]) for e in delta["roster"]] == [(who, [])]

    gone = world.elders[1]
    api.ok(
        "POST",
        f"/api/v1/elders/{gone}/status",
        api.operator,
        201,
        json={"status": "cancelled", "effective_from": "2026-02-01", "reason": "迁出"},
    )
    after = pull(world, world.ta, delta["cursor"])
    assert after["removed_elders"] == [gone] and after["roster"] == []
    again = pull(world, world.ta)  # a full resync leaves the cancelled elder out and lists the revoked card
    assert gone not in {e["elder_id"] for e in again["roster"]}
    assert delta["revoked_cards"][0] in again["revoked_cards"]


def test_rules_changes_reach_the_terminal(api: Api, world: World) -> None:
    cursor = pull(world, world.ta)["cursor"]
    version = {
        "id": "2099.1",
        "effective_from": "2099-01-01",
        "min_age": 60,
        "subsidised_slots": ["lunch"],
        "tiers": [{"id": "all", "label": "全体", "subsidy": {"fixed": "1.00"}}],
    }
    api.ok("POST", "/api/v1/rulebooks/ruyi-city/versions", api.admin, json=version)
    delta = pull(world, world.ta, cursor)
    assert delta["rules"] is not None and delta["rules"]["versions"][-1]["id"] == "2099.1"


def test_full_resync_is_paged(api: Api, world: World) -> None:
    for n in range(5):
        elder(api, 50 + n, enrolled_on="2026-01-01")
    api.settings.sync_roster_page = 3
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        page = pull(world, world.ta, cursor)
        assert page["full"] is True and page["menu"] is not None and page["rules"] is not None
        seen += [e["elder_id"] for e in page["roster"]]
        cursor, pages = page["cursor"], pages + 1
        if not page["more"]:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 9
    newcomer = elder(api, 60, enrolled_on="2026-01-01")
    assert [e["elder_id"] for e in pull(world, world.ta, cursor)["roster"]] == [newcomer["id"]]


def test_unknown_cursor_means_full_resync(world: World) -> None:
    for cursor in ("garbage", "eyJ2IjoxLCJjIjo5OTk5OTl9"):  # the second: change 999999, never made here
        body = pull(world, world.ta, cursor)
        assert body["full"] is True and len(body["roster"]) == len(world.elders)


def test_nothing_that_identifies_an_elder_or_a_category(api: Api, world: World) -> None:
    for n, e in enumerate(world.elders):
        api.ok(
            "POST",
            f"/api/v1/elders/{e}/categories",
            api.operator,
            201,
            json={"code": ["dibao", "tekun", "shidu", "living_alone"][n], "valid_from": "2026-01-01"},
        )
    text = world.api.client.get(PULL, headers=world.ta.headers).text
    forbidden = [id_number(n + 1) for n in range(len(world.elders))] + ["张三丰", *_category_words()]
    forbidden += list(world.serials.values())
    assert [w for w in forbidden if w in text] == []
    assert "c" in text  # tokens instead of categories are there


def _category_words() -> list[str]:
    import yaml  # noqa: PLC0415

    book = yaml.safe_load(CITY_RULES)
    words = list(book["categories"]) + list(book["categories"].values())
    for version in book["versions"]:
        words += [t["label"] for t in version["tiers"] if "categories_any" in t.get("when", {})]
        words += [t["id"] for t in version["tiers"] if "categories_any" in t.get("when", {})]
    return [w for w in words if len(w) >= 4 or not w.isascii()]


def _item(name: str) -> dict[str, Any]:
    return {"name": name, "price": 900, "slot": "lunch", "effective_from": "2026-01-01"}
