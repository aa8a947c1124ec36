"""Card bindings. One active binding per card (kind + serial) is a partial unique index; a race between two
binders ends in one success and one 409, decided by the database, not by a look-then-insert."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.eligibility import EnrolmentStatus
from server.audit import service as audit
from server.auth.principal import Principal
from server.base import local_today, utcnow
from server.cards.tables import Card
from server.elders.schemas import CardKind, CardOut
from server.elders.service import CLOSED, get_elder, normalise_serial, statuses_of
from server.errors import Conflict, Invalid, NotFound


def revoked_since(revoked_on: date | None, revoked_at: datetime | None, zone: ZoneInfo) -> datetime | None:
    """When a revoked card stopped counting: its revocation date's midnight in the programme's zone, or when
    the revocation was recorded if that is earlier (intake flags, and settlement re-checks, meals from then on)."""
    if revoked_at is None:
        return None
    if revoked_on is None:
        return revoked_at
    return min(revoked_at, datetime.combine(revoked_on, time(0), zone))


def card_out(c: Card) -> CardOut:
    return CardOut(
        id=c.id,
        elder_id=c.elder_id,
        kind=c.kind,
        serial=c.serial,
        bound_on=c.bound_on,
        bound_at=c.bound_at,
        revoked_on=c.revoked_on,
        revoke_reason=c.revoke_reason,
        active=c.revoked_at is None,
    )


def _bound(kind: str, serial: str, existing: Card | None) -> Conflict:
    extra = {"existing_card_id": str(existing.id), "existing_elder_id": str(existing.elder_id)} if existing else {}
    return Conflict(
        f"此卡（{kind} {serial}）已绑定，请先挂失或解绑",
        f"card {kind} {serial} is already bound: revoke that binding first",
        code="card.already_bound",
        **extra,
    )


def active_card(session: Session, *, kind: str, serial: str) -> Card | None:
    stmt = select(Card).where(col(Card.kind) == kind, col(Card.serial) == serial, col(Card.revoked_at).is_(None))
    return session.exec(stmt).first()


def bind(
    session: Session, *, actor: Principal, elder_id: uuid.UUID, kind: CardKind, serial: str, bound_on: date | None
) -> Card:
    elder = get_elder(session, actor=actor, elder_id=elder_id)
    history = statuses_of(session, [elder.id])[elder.id]
    if history and EnrolmentStatus(history[-1].status) in CLOSED:
        raise Conflict("该老人已注销，不能绑卡", "the elder's enrolment is closed", code="elder.closed")
    serial = normalise_serial(serial)
    if len(serial) < 4:
        raise Invalid.field("serial", "string_too_short", "卡号至少 4 个字符", "a serial has at least 4 characters")
    existing = active_card(session, kind=kind, serial=serial)
    if existing is not None:
        raise _bound(kind, serial, existing)
    card = Card(elder_id=elder.id, kind=kind, serial=serial, bound_on=bound_on or local_today())
    session.add(card)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise _bound(kind, serial, active_card(session, kind=kind, serial=serial)) from None
    audit.record(
        session,
        actor=actor,
        action="card.bind",
        object_type="card",
        object_id=card.id,
        canteen_id=elder.canteen_id,
        after={"elder_id": str(elder.id), "kind": kind, "serial": serial, "bound_on": card.bound_on.isoformat()},
    )
    return card


def get_card(session: Session, *, actor: Principal, card_id: uuid.UUID) -> Card:
    card = session.get(Card, card_id)
    if card is None:
        raise NotFound("卡", "card")
    get_elder(session, actor=actor, elder_id=card.elder_id)  # 404 for another canteen's elder
    return card


def revoke(session: Session, *, actor: Principal, card_id: uuid.UUID, revoked_on: date, reason: str) -> Card:
    card = get_card(session, actor=actor, card_id=card_id)
    if card.revoked_at is not None:
        raise Conflict("此卡绑定已解除", "this binding is already revoked", code="card.revoked")
    if revoked_on < card.bound_on:
        raise Invalid.field("revoked_on", "dates_reversed", "解绑日期早于绑定日期", "revoked before it was bound")
    card.revoked_at = utcnow()
    card.revoked_on = revoked_on
    card.revoke_reason = reason
    session.add(card)
    audit.record(
        session,
        actor=actor,
        action="card.revoke",
        object_type="card",
        object_id=card.id,
        before={"active": True},
        after={"active": False, "revoked_on": revoked_on.isoformat(), "reason": reason},
    )
    return card


def cards_of(session: Session, *, actor: Principal, elder_id: uuid.UUID) -> list[Card]:
    elder = get_elder(session, actor=actor, elder_id=elder_id)
    stmt = select(Card).where(col(Card.elder_id) == elder.id).order_by(col(Card.bound_at))
    return list(session.exec(stmt))


def lookup(session: Session, *, actor: Principal, kind: str, serial: str) -> Card:
    card = active_card(session, kind=kind, serial=normalise_serial(serial))
    if card is None:
        raise NotFound("卡", "card")
    get_elder(session, actor=actor, elder_id=card.elder_id)
    return card
