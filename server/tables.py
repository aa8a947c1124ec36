"""Every table, imported once so the metadata is complete (Alembic and the drift test use this)."""

from server.audit.tables import AuditEntry
from server.auth.tables import AuthToken, Staff
from server.base import metadata
from server.canteens.tables import Canteen, MenuItem, Terminal
from server.cards.tables import Card
from server.elders.tables import Elder, ElderCategory, ElderImport, ElderStatusChange
from server.meals.tables import Meal, MealActivity, MealElderDay, MealFlag
from server.rules.tables import RuleProgramme, RuleVersionRow
from server.settlements.tables import (
    ClosedMonth,
    SettlementDecision,
    SettlementLine,
    SettlementNote,
    SettlementStatement,
)
from server.sync import changes as _changes  # noqa: F401 (registers the change-log hook on every session)
from server.sync.tables import SyncAlert, SyncChange, SyncClock, SyncTerminal, SyncZReport

__all__ = [
    "AuditEntry",
    "AuthToken",
    "Canteen",
    "Card",
    "ClosedMonth",
    "Elder",
    "ElderCategory",
    "ElderImport",
    "ElderStatusChange",
    "Meal",
    "MealActivity",
    "MealElderDay",
    "MealFlag",
    "MenuItem",
    "RuleProgramme",
    "RuleVersionRow",
    "SettlementDecision",
    "SettlementLine",
    "SettlementNote",
    "SettlementStatement",
    "Staff",
    "SyncAlert",
    "SyncChange",
    "SyncClock",
    "SyncTerminal",
    "SyncZReport",
    "Terminal",
    "metadata",
]
