"""Every table, imported once so the metadata is complete (Alembic and the drift test use this)."""

from server.audit.tables import AuditEntry
from server.auth.tables import AuthToken, Staff
from server.base import metadata
from server.canteens.tables import Canteen, MenuItem, Terminal
from server.cards.tables import Card
from server.elders.tables import Elder, ElderCategory, ElderImport, ElderStatusChange
from server.rules.tables import RuleProgramme, RuleVersionRow

__all__ = [
    "AuditEntry",
    "AuthToken",
    "Canteen",
    "Card",
    "Elder",
    "ElderCategory",
    "ElderImport",
    "ElderStatusChange",
    "MenuItem",
    "RuleProgramme",
    "RuleVersionRow",
    "Staff",
    "Terminal",
    "metadata",
]
