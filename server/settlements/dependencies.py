"""The statement a settlement route acts on: the caller's permission checked (403) before the canteen (404),
the statement loaded once with its canteen's rule book, and locked when the route writes.

No ``from __future__ import annotations`` here: the dependency's annotations name the permission its factory
was called with, so they are evaluated when the dependency is made.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from ruyi.settlement import SettlementConfig
from server.auth.dependencies import SettingsDep, require
from server.auth.principal import Perm, Principal
from server.canteens.tables import Canteen
from server.config import Settings
from server.db import SessionDep
from server.settlements import service
from server.settlements.facts import Context, context
from server.settlements.tables import SettlementStatement


def settlement_config(request: Request) -> SettlementConfig:
    """The app's edit-check thresholds (made from the settings by :func:`server.app.create_app`)."""
    config: SettlementConfig = request.app.state.settlement_config
    return config


ConfigDep = Annotated[SettlementConfig, Depends(settlement_config)]


@dataclass(frozen=True)
class Target:
    """A statement as one caller acts on it: who, the row, its canteen with the rule book and thresholds, and
    whether the four-eyes rule holds (``RUYI_SETTLEMENT_FOUR_EYES``)."""

    actor: Principal
    row: SettlementStatement
    canteen: Canteen
    ctx: Context
    four_eyes: bool = True


def target(
    session: Session, *, actor: Principal, row: SettlementStatement, settings: Settings, config: SettlementConfig
) -> Target:
    canteen = session.get(Canteen, row.canteen_id)
    assert canteen is not None
    ctx = context(
        session, canteen, category_key=settings.category_key, config=config, card_secret=settings.card_key_secret
    )
    return Target(actor, row, canteen, ctx, four_eyes=settings.settlement_four_eyes)


def _statement(perm: Perm, *, write: bool) -> Callable[..., Target]:
    def dependency(
        actor: Annotated[Principal, Depends(require(perm))],
        session: SessionDep,
        settings: SettingsDep,
        config: ConfigDep,
        statement_id: uuid.UUID,
    ) -> Target:
        row = service.get_row(session, actor=actor, statement_id=statement_id, for_update=write)
        return target(session, actor=actor, row=row, settings=settings, config=config)

    dependency.__name__ = f"statement_{perm.value.replace('.', '_')}"
    return dependency


ReadTarget = Annotated[Target, Depends(_statement(Perm.SETTLEMENTS_READ, write=False))]
CheckTarget = Annotated[Target, Depends(_statement(Perm.SETTLEMENTS_CHECK, write=True))]
PrepareTarget = Annotated[Target, Depends(_statement(Perm.SETTLEMENTS_PREPARE, write=True))]
ReviewTarget = Annotated[Target, Depends(_statement(Perm.SETTLEMENTS_REVIEW, write=True))]
