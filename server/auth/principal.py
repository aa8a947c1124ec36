"""Roles, what each may do, and who is asking (the principal behind a token)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Literal


class Role(enum.StrEnum):
    BUREAU_ADMIN = "bureau_admin"
    BUREAU_OPERATOR = "bureau_operator"
    BUREAU_AUDITOR = "bureau_auditor"
    CANTEEN_MANAGER = "canteen_manager"
    CASHIER = "cashier"
    """Sells at one canteen's counters (signs in at a terminal with number and PIN); no API permission."""
    TERMINAL = "terminal"


STAFF_ROLES = (Role.BUREAU_ADMIN, Role.BUREAU_OPERATOR, Role.BUREAU_AUDITOR, Role.CANTEEN_MANAGER, Role.CASHIER)
CANTEEN_ROLES = frozenset({Role.CANTEEN_MANAGER, Role.CASHIER})
"""Staff roles that belong to one canteen (``canteen_id`` required)."""


class Perm(enum.StrEnum):
    ELDERS_READ = "elders.read"
    """Elders with masked ID numbers (and masked names for canteen-scoped callers)."""
    ELDERS_READ_FULL = "elders.read_full"
    """Full ID numbers, birth dates and categories."""
    ELDERS_WRITE = "elders.write"
    CARDS_READ = "cards.read"
    CARDS_WRITE = "cards.write"
    CANTEENS_READ = "canteens.read"
    CANTEENS_WRITE = "canteens.write"
    MENUS_WRITE = "menus.write"
    TERMINALS_READ = "terminals.read"
    TERMINALS_WRITE = "terminals.write"
    RULES_READ = "rules.read"
    RULES_WRITE = "rules.write"
    QUOTES_PREVIEW = "quotes.preview"
    AUDIT_READ = "audit.read"
    STAFF_MANAGE = "staff.manage"
    CATEGORIES_READ = "categories.read"
    """See which categories (低保, 特困 …) an elder holds. Never canteen-scoped callers (DESIGN §4.8)."""
    SETTLEMENTS_READ = "settlements.read"
    """Statements and their exports (a canteen manager: their canteen's)."""
    SETTLEMENTS_CHECK = "settlements.check"
    """Open statements, run their checks, note warnings."""
    SETTLEMENTS_PREPARE = "settlements.prepare"
    """Enter construction lines and corrections, decide flagged meals."""
    SETTLEMENTS_REVIEW = "settlements.review"
    """Review and close statements."""
    SETTLEMENTS_PROGRAMME = "settlements.programme"
    """The whole programme's month and the city-wide summary."""
    MEAL_FLAGS_READ = "meal_flags.read"
    """The flags intake put on meals (a canteen manager: their canteen's)."""


_READ = frozenset(
    {
        Perm.ELDERS_READ,
        Perm.CARDS_READ,
        Perm.CANTEENS_READ,
        Perm.TERMINALS_READ,
        Perm.RULES_READ,
        Perm.CATEGORIES_READ,
    }
)
_BUREAU = frozenset({Perm.SETTLEMENTS_READ, Perm.SETTLEMENTS_CHECK, Perm.SETTLEMENTS_PROGRAMME, Perm.MEAL_FLAGS_READ})
ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.BUREAU_ADMIN: frozenset(Perm),
    Role.BUREAU_OPERATOR: _READ
    | _BUREAU
    | {Perm.ELDERS_READ_FULL, Perm.ELDERS_WRITE, Perm.CARDS_WRITE, Perm.QUOTES_PREVIEW, Perm.SETTLEMENTS_PREPARE},
    Role.BUREAU_AUDITOR: _READ | _BUREAU | {Perm.AUDIT_READ, Perm.QUOTES_PREVIEW, Perm.SETTLEMENTS_REVIEW},
    Role.CANTEEN_MANAGER: frozenset(
        {
            Perm.ELDERS_READ,
            Perm.CANTEENS_READ,
            Perm.MENUS_WRITE,
            Perm.TERMINALS_READ,
            Perm.RULES_READ,
            Perm.SETTLEMENTS_READ,
            Perm.MEAL_FLAGS_READ,
        }
    ),
    Role.CASHIER: frozenset(),
    Role.TERMINAL: frozenset({Perm.CANTEENS_READ, Perm.RULES_READ}),
}

# The roles a member of staff may put on an API token they mint (a subset of what they can do).
TOKEN_ROLES: dict[Role, frozenset[Role]] = {
    Role.BUREAU_ADMIN: frozenset({Role.BUREAU_ADMIN, Role.BUREAU_OPERATOR, Role.BUREAU_AUDITOR}),
    Role.BUREAU_OPERATOR: frozenset({Role.BUREAU_OPERATOR}),
    Role.BUREAU_AUDITOR: frozenset({Role.BUREAU_AUDITOR}),
    Role.CANTEEN_MANAGER: frozenset({Role.CANTEEN_MANAGER}),
    Role.CASHIER: frozenset(),
    Role.TERMINAL: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["staff", "terminal", "system"]
    id: uuid.UUID | None
    name: str
    roles: frozenset[Role]
    canteen_id: uuid.UUID | None = None
    """Set for canteen managers and terminals: they reach this canteen's objects only."""
    token_id: uuid.UUID | None = None

    @property
    def perms(self) -> frozenset[Perm]:
        out: frozenset[Perm] = frozenset()
        for role in self.roles:
            out |= ROLE_PERMS[role]
        return out

    def can(self, perm: Perm) -> bool:
        return perm in self.perms

    @property
    def canteen_scoped(self) -> bool:
        return self.canteen_id is not None

    def reaches(self, canteen_id: uuid.UUID | None) -> bool:
        """Whether an object of ``canteen_id`` is visible at all (foreign ones answer 404)."""
        return self.canteen_id is None or self.canteen_id == canteen_id


SYSTEM = Principal(kind="system", id=None, name="system", roles=frozenset({Role.BUREAU_ADMIN}))
"""The command line acting on the database directly (``ruyi admin create-staff``)."""
