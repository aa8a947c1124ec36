"""Quote preview for staff: the one pricing function (``ruyi.pricing.quote``) on registry data."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlmodel import Session

from ruyi.pricing import MealRequest, PriorMeal, Quote, quote
from ruyi.reasons import reason_text
from server.auth.principal import Principal
from server.canteens.service import get_canteen, get_menu_item
from server.canteens.tables import MenuItem
from server.elders.service import get_elder, profiles_of
from server.errors import Invalid, NotFound
from server.meals.queries import elder_day_meals
from server.quotes.schemas import QuoteOut, ReasonOut
from server.rules.service import load_book

SLOT_TIME = {"breakfast": time(7, 30), "lunch": time(12, 0), "dinner": time(18, 0)}


def preview(
    session: Session,
    *,
    actor: Principal,
    elder_id: uuid.UUID | None,
    canteen_id: uuid.UUID,
    menu_item_id: uuid.UUID,
    on: date,
    service_time: datetime | None,
) -> QuoteOut:
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    item = get_menu_item(session, actor=actor, item_id=menu_item_id)
    if item.canteen_id != canteen.id:
        raise NotFound("菜品", "menu item")
    book = load_book(session, canteen.programme)
    if book is None:
        raise NotFound(
            message=(f"食堂所属项目 {canteen.programme} 没有补贴规则", f"no rule book for {canteen.programme}")
        )
    when = service_time or datetime.combine(on, SLOT_TIME[item.slot], tzinfo=book.zone)
    day = when.astimezone(book.zone).date()
    if day < item.effective_from or (item.effective_to is not None and day > item.effective_to):
        raise Invalid.field(
            "menu_item_id", "menu.not_offered", f"该菜品在 {day} 不供应", f"the item is not offered on {day}"
        )
    elder = (
        profiles_of(session, [get_elder(session, actor=actor, elder_id=elder_id).id])[elder_id] if elder_id else None
    )
    meal = MealRequest(
        canteen_id=str(canteen.id),
        slot=item.slot,
        price=item.price,
        service_time=when,
        menu_item_id=str(item.id),
    )
    history = _history(session, elder_id, day, when) if elder_id else []
    return _quote_out(quote(elder, meal, history, book), when=when, item=item)


def _history(session: Session, elder_id: uuid.UUID, day: date, when: datetime) -> list[PriorMeal]:
    """The elder's earlier, not voided sales that day at every canteen, as intake would see them."""
    return [
        PriorMeal(service_time=m.service_time, slot=m.slot, canteen_id=str(m.canteen_id), subsidised=m.subsidised)
        for m in elder_day_meals(session, [elder_id], {day}).get((elder_id, day), [])
        if m.service_time < when
    ]


def _quote_out(q: Quote, *, when: datetime, item: MenuItem) -> QuoteOut:
    return QuoteOut(
        price=q.price,
        subsidy=q.subsidy,
        elder_pays=q.elder_pays,
        operating_subsidy=q.operating_subsidy,
        subsidised=q.subsidised,
        service_date=q.service_date,
        service_time=when,
        age=q.age,
        programme=q.programme,
        rule_version=q.rule_version,
        tiers=list(q.tiers),
        reasons=[ReasonOut(code=r.value, zh=reason_text(r, "zh"), en=reason_text(r, "en")) for r in q.reasons],
        subsidised_today=q.subsidised_today,
        per_day_limit=q.per_day_limit,
        menu_item_name=item.name,
        slot=item.slot,
    )
