"""Builders for ledger tests: quotes that add up, sales with sensible defaults, and a fresh ledger."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ruyi.meal import CardKind, IdentifiedBy, MealRecord, PaymentMethod
from ruyi.pricing import Quote
from ruyi.reasons import Reason
from ruyi.rules import Slot
from terminal.ledger import Ledger

ZONE = ZoneInfo("Asia/Shanghai")
TERMINAL = "T-001"
CANTEEN = "c01"
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=ZONE)


def open_ledger(path: Path, terminal_id: str = TERMINAL) -> Ledger:
    return Ledger.open(path, terminal_id=terminal_id, canteen_id=CANTEEN, zone=ZONE)


def make_quote(when: datetime, price: int = 1200, subsidy: int = 500, operating: int = 200) -> Quote:
    """A quote whose amounts add up (price = subsidy + elder_pays), for ``when``'s service date."""
    subsidised = subsidy > 0
    return Quote(
        price=price,
        subsidy=subsidy,
        elder_pays=price - subsidy,
        operating_subsidy=operating if subsidised else 0,
        subsidised=subsidised,
        service_date=when.astimezone(ZONE).date(),
        age=80 if subsidised else None,
        programme="ruyi-city",
        rule_version="2026.1",
        tiers=("age80",) if subsidised else (),
        reasons=(Reason.SUBSIDISED,) if subsidised else (Reason.WALK_IN,),
        subsidised_today=0,
        per_day_limit=2,
    )


def sell(
    ledger: Ledger,
    when: datetime = NOON,
    *,
    elder_id: str | None = "E1",
    how: IdentifiedBy | None = None,
    card_kind: CardKind | None = "uid",
    slot: Slot = "lunch",
    payment_method: PaymentMethod = "cash",
    quote: Quote | None = None,
    cashier: str = "c07",
    **quote_args: Any,
) -> MealRecord:
    """Record a sale: by card for an elder, a walk-in when ``elder_id`` is None, by hand with ``how="manual"``."""
    identified_by: IdentifiedBy = how or ("card" if elder_id is not None else "walk_in")
    return ledger.record_sale(
        now=when,
        quote=quote or make_quote(when, **quote_args),
        slot=slot,
        menu_item_id="set-a",
        payment_method=payment_method,
        cashier=cashier,
        identified_by=identified_by,
        elder_id=elder_id,
        card_kind=card_kind if identified_by == "card" else None,
        manual_reason="忘带卡" if identified_by == "manual" else None,
    )
