"""Sync on the server, pull: hand a terminal what it needs. A full resync pages through the roster; deltas come
from the registry change log (:mod:`server.sync.tables`) after the cursor's change number."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.eligibility import EnrolmentStatus
from ruyi.idnum import mask_name
from ruyi.redact import profile_for_terminal, rulebook_for_terminal
from ruyi.rules import RuleBook
from ruyi.sync import MenuItem, OfflinePolicy, PullResponse, RosterEntry, card_key_digest
from server.auth.cashiers import cashiers_of
from server.auth.principal import Principal
from server.base import as_uuid, utcnow
from server.canteens.tables import Canteen
from server.canteens.tables import MenuItem as MenuRow
from server.cards.tables import Card
from server.config import Settings
from server.elders.service import CLOSED, profiles_of
from server.elders.tables import Elder
from server.errors import Forbidden
from server.rules.service import load_book
from server.sync.changes import current_change_no
from server.sync.schemas import menu_entry
from server.sync.service import check_protocol, offline_policy, programme_zone
from server.sync.tables import SyncChange

# -- pull ------------------------------------------------------------------------------------------------------
#
# The cursor is opaque to the terminal: base64url of a small JSON object.
#   {"v": 1, "c": N}                       deltas after registry change N
#   {"v": 1, "c": N, "t": M, "a": ID}      a delta being paged: changes (N, M], elders after ID still to send
#   {"v": 1, "f": N, "a": ID}              a full resync being paged (taken at change N), elders after ID
# A cursor that does not decode, or names a change the server has not made (a restored database), starts a
# full resync. Writes that land while a full resync is paged come as deltas after it (it ends at "c": N).

_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    change_no: int
    target: int | None = None
    after: uuid.UUID | None = None
    full: bool = False

    def encode(self) -> str:
        data: dict[str, Any] = {"v": _CURSOR_VERSION, ("f" if self.full else "c"): self.change_no}
        if self.target is not None:
            data["t"] = self.target
        if self.after is not None:
            data["a"] = str(self.after)
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
                return None
            full = "f" in data
            number = data["f"] if full else data["c"]
            target = data.get("t")
            after = uuid.UUID(data["a"]) if data.get("a") is not None else None
            if not isinstance(number, int) or not (target is None or isinstance(target, int)):
                return None
            return cls(change_no=number, target=target, after=after, full=full)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return None


def _in_roster(profile_status: EnrolmentStatus | None, has_history: bool) -> bool:
    """Who a terminal should know: anyone with an enrolment history not closed (cancelled, deceased) today.
    Suspended elders stay (pricing says why they pay in full); a future cancellation travels in the profile."""
    return has_history and profile_status not in CLOSED


@dataclass(frozen=True, slots=True)
class _PullFor:
    """What every page of a pull shares: the terminal's canteen, rule book, day and keys."""

    canteen: Canteen
    book: RuleBook | None
    today: date
    page: int
    policy: OfflinePolicy
    category_key: bytes
    card_secret: bytes
    now: datetime

    def rules(self) -> RuleBook | None:
        return rulebook_for_terminal(self.book, self.category_key) if self.book is not None else None


def pull(
    session: Session,
    *,
    actor: Principal,
    protocol: int,
    cursor: str | None,
    settings: Settings,
    now: datetime | None = None,
) -> PullResponse:
    check_protocol(protocol)
    if actor.kind != "terminal" or actor.canteen_id is None:
        raise Forbidden("此操作仅限终端", "terminals only")
    now = now or utcnow()
    canteen = session.get(Canteen, actor.canteen_id)
    assert canteen is not None
    book = load_book(session, canteen.programme)
    current = current_change_no(session.connection())
    at = Cursor.decode(cursor)
    if at is not None and (at.change_no > current or (at.target is not None and at.target > current)):
        at = None
    of = _PullFor(
        canteen=canteen,
        book=book,
        today=now.astimezone(programme_zone(book)).date(),
        page=settings.sync_roster_page,
        policy=offline_policy(canteen, settings),
        category_key=settings.category_key.encode(),
        card_secret=settings.card_key_secret.encode(),
        now=now,
    )
    if at is None or at.full:
        return _full_page(session, of, taken_at=current if at is None else at.change_no, at=at)
    return _delta_page(session, of, at=at, current=current)


def _full_page(session: Session, of: _PullFor, *, taken_at: int, at: Cursor | None) -> PullResponse:
    """The next page of a full resync: the roster by elder id, with rules, menu and every revoked card."""
    stmt = select(Elder).order_by(col(Elder.id)).limit(of.page + 1)
    if at is not None and at.after is not None:
        stmt = stmt.where(col(Elder.id) > at.after)
    elders = list(session.exec(stmt))
    more = len(elders) > of.page
    elders = elders[: of.page]
    roster, _removed = _roster(session, elders, of)
    nxt = Cursor(change_no=taken_at, after=elders[-1].id, full=True) if more else Cursor(change_no=taken_at)
    return PullResponse(
        cursor=nxt.encode(),
        full=True,
        more=more,
        rules=of.rules(),
        menu=_menu(session, of.canteen.id, of.today),
        roster=tuple(roster),
        revoked_cards=_revoked_keys(session, None, of.card_secret),
        cashiers=cashiers_of(session, of.canteen.id) if at is None or at.after is None else None,
        offline_policy=of.policy,
        server_time=of.now,
    )


def _delta_page(session: Session, of: _PullFor, *, at: Cursor, current: int) -> PullResponse:
    """The next page of the changes after the cursor (up to its target): changed elders, and on the first page
    the rules, menu and revoked cards where they changed."""
    target = at.target if at.target is not None else current
    changes = session.exec(
        select(SyncChange).where(col(SyncChange.change_no) > at.change_no, col(SyncChange.change_no) <= target)
    )
    refs: dict[str, set[str]] = {}
    for ch in changes:
        refs.setdefault(ch.kind, set()).add(ch.ref)
    elder_ids = set(_ids(refs, "elder"))
    imports = _ids(refs, "import")
    if imports:
        elder_ids.update(session.exec(select(Elder.id).where(col(Elder.import_id).in_(imports))))
    pending = sorted(e for e in elder_ids if at.after is None or e > at.after)
    more = len(pending) > of.page
    pending = pending[: of.page]
    elders = (
        list(session.exec(select(Elder).where(col(Elder.id).in_(pending)).order_by(col(Elder.id)))) if pending else []
    )
    roster, removed = _roster(session, elders, of)
    first = at.after is None
    canteen_changed = str(of.canteen.id) in refs.get("canteen", set())
    rules_changed = canteen_changed or of.canteen.programme in refs.get("rules", set())
    menu_changed = canteen_changed or str(of.canteen.id) in refs.get("menu", set())
    card_ids = _ids(refs, "card")
    nxt = Cursor(change_no=at.change_no, target=target, after=pending[-1]) if more else Cursor(change_no=target)
    return PullResponse(
        cursor=nxt.encode(),
        full=False,
        more=more,
        rules=of.rules() if first and rules_changed else None,
        menu=_menu(session, of.canteen.id, of.today) if first and menu_changed else None,
        roster=tuple(roster),
        removed_elders=tuple(removed),
        revoked_cards=_revoked_keys(session, card_ids, of.card_secret) if first and card_ids else (),
        cashiers=cashiers_of(session, of.canteen.id) if first else None,
        offline_policy=of.policy,
        server_time=of.now,
    )


def _ids(refs: dict[str, set[str]], kind: str) -> list[uuid.UUID]:
    return [u for u in (as_uuid(r) for r in refs.get(kind, ())) if u is not None]


def _roster(session: Session, elders: list[Elder], of: _PullFor) -> tuple[list[RosterEntry], list[str]]:
    """Roster entries of the elders a terminal should know, and the ids of those it should forget."""
    profiles = profiles_of(session, [e.id for e in elders])
    cards: dict[uuid.UUID, list[str]] = {}
    if elders:
        for card in session.exec(
            select(Card).where(col(Card.elder_id).in_([e.id for e in elders]), col(Card.revoked_at).is_(None))
        ):
            cards.setdefault(card.elder_id, []).append(card_key_digest(of.card_secret, card.kind, card.serial))
    roster: list[RosterEntry] = []
    removed: list[str] = []
    for e in elders:
        profile = profiles[e.id]
        if not _in_roster(profile.status_on(of.today), bool(profile.statuses)):
            removed.append(str(e.id))
            continue
        roster.append(
            RosterEntry(
                elder_id=str(e.id),
                masked_name=mask_name(e.name),
                birth_year=e.birth_date.year,
                id_tail=e.id_tail.upper(),
                cards=tuple(sorted(cards.get(e.id, []))),
                profile=profile_for_terminal(profile, of.category_key),
            )
        )
    return roster, removed


def _menu(session: Session, canteen_id: uuid.UUID, today: date) -> tuple[MenuItem, ...]:
    """The canteen's items still on offer today or later (ended ones are left out)."""
    stmt = select(MenuRow).where(
        col(MenuRow.canteen_id) == canteen_id,
        sa.or_(col(MenuRow.effective_to).is_(None), col(MenuRow.effective_to) >= today),
    )
    order = (col(MenuRow.slot), col(MenuRow.effective_from), col(MenuRow.name))
    return tuple(menu_entry(m) for m in session.exec(stmt.order_by(*order)))


def _revoked_keys(session: Session, card_ids: list[uuid.UUID] | None, card_secret: bytes) -> tuple[str, ...]:
    """Keys of revoked bindings (of ``card_ids``, or all), except cards that are bound again now."""
    stmt = select(Card.kind, Card.serial).where(col(Card.revoked_at).is_not(None))
    if card_ids is not None:
        stmt = stmt.where(col(Card.id).in_(card_ids))
    revoked = {card_key_digest(card_secret, kind, serial) for kind, serial in session.exec(stmt)}
    if not revoked:
        return ()
    active = {
        card_key_digest(card_secret, kind, serial)
        for kind, serial in session.exec(select(Card.kind, Card.serial).where(col(Card.revoked_at).is_(None)))
    }
    return tuple(sorted(revoked - active))
