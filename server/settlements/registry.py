"""The registry as it stands now, for the elders of the meals being settled (:class:`ruyi.settlement.Registry`):
what :func:`ruyi.pricing.quote` needs of each elder, the revoked cards by the key digest meals carry, and the
recorded facts that can take a subsidy away (status changes, category ends, revocations) with when and by whom they
were recorded. A handful of set-based queries for any number of meals, never one per meal.

Also which closed months such a fact, recorded after their close, reopens (:func:`touched_since`), and which
canteens of an open month have meals of elders with such a fact recorded since the month began
(:func:`touched_canteens`, for the programme's month summed from rollups). Both read the audit log, where every
such change is written (:data:`NOTICED`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from ruyi.eligibility import EnrolmentStatus
from ruyi.settlement import MealFact, Month, Registry, RegistryFact, Revocation
from ruyi.sync import card_key_digest
from server.audit.tables import AuditEntry
from server.cards.service import revoked_since
from server.cards.tables import Card
from server.elders.service import profiles_of
from server.elders.tables import ElderCategory, ElderStatusChange
from server.meals.tables import Meal
from server.sql import in_values

STATUS_ACTIONS = tuple(f"elder.status.{s.value}" for s in EnrolmentStatus if s is not EnrolmentStatus.ENROLLED)
CATEGORY_END = "elder.category.end"
CARD_REVOKE = "card.revoke"
ACTIONS = (*STATUS_ACTIONS, CATEGORY_END, CARD_REVOKE)
"""The audited actions that can take a subsidy away."""
NOTICED = (*ACTIONS, "elder.update")
"""What makes a month's meals worth pricing again: those, and an elder's details edited (birth date, area)."""


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return None if text is None else uuid.UUID(text)
    except ValueError:
        return None


def _local(at: datetime | None, zone: Any) -> datetime | None:
    """A recording time in the programme's zone (its date is the one shown)."""
    return None if at is None else at.astimezone(zone)


def registry_of(
    session: Session, *, facts: Iterable[MealFact], card_secret: bytes, zone: Any, labels: Mapping[str, str]
) -> Registry:
    """The registry now for the elders of the subsidised sales among ``facts``: six queries whatever their number
    (three for the profiles, one each for status changes, ended categories and revoked cards, and the audit
    entries naming who recorded them). ``labels``: the rule book's category labels, for an ended category's words."""
    text_of: dict[uuid.UUID, str] = {}
    for f in facts:
        elder = _uuid(f.elder_id) if f.kind == "sale" and f.subsidy > 0 else None
        if elder is not None and f.elder_id is not None:
            text_of[elder] = f.elder_id  # facts name elders as the meals did: the registry answers in kind
    ids = sorted(text_of)
    if not ids:
        return Registry({})
    profiles = {text_of[k]: v for k, v in profiles_of(session, ids).items()}
    statuses, ended, cards = _rows(session, ids)
    audit = _audit(session, {str(r.elder_id) for r in [*statuses, *ended]} | {str(c.id) for c in cards})
    out: list[RegistryFact] = []
    for r in statuses:
        _, by = audit.get((f"elder.status.{r.status}", str(r.elder_id), r.effective_from.isoformat()), (None, ""))
        recorded = _local(r.created_at, zone)
        out.append(RegistryFact(text_of[r.elder_id], "status", r.status, r.effective_from, recorded, by))
    for r in ended:
        at, by = audit.get((CATEGORY_END, str(r.elder_id), f"{r.code}:{r.valid_to.isoformat()}"), (None, ""))
        ended_fact = RegistryFact(text_of[r.elder_id], "category_end", r.code, r.valid_to, _local(at, zone), by)
        out.append(replace(ended_fact, label=labels.get(r.code, "")))
    revocations: dict[str, Revocation] = {}
    for c in cards:
        since = revoked_since(c.revoked_on, c.revoked_at, zone)
        assert since is not None
        key = card_key_digest(card_secret, c.kind, c.serial)
        _, by = audit.get((CARD_REVOKE, str(c.id), ""), (None, ""))
        day = since.astimezone(zone).date()
        fact = RegistryFact(text_of[c.elder_id], "card_revoked", key, day, _local(c.revoked_at, zone), by)
        if key not in revocations or since < revocations[key].since:
            revocations[key] = Revocation(key, since, fact)
    return Registry(profiles, revocations, tuple(out))


def _rows(session: Session, ids: list[uuid.UUID]) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any]]:
    """The elders' status changes other than enrolment, their ended categories and their revoked cards."""
    statuses = session.execute(
        sa.select(
            col(ElderStatusChange.elder_id),
            col(ElderStatusChange.status),
            col(ElderStatusChange.effective_from),
            col(ElderStatusChange.created_at),
        ).where(in_values(session, col(ElderStatusChange.elder_id), ids), col(ElderStatusChange.status) != "enrolled")
    ).all()
    ended = session.execute(
        sa.select(col(ElderCategory.elder_id), col(ElderCategory.code), col(ElderCategory.valid_to)).where(
            in_values(session, col(ElderCategory.elder_id), ids), col(ElderCategory.valid_to).is_not(None)
        )
    ).all()
    cards = session.execute(
        sa.select(col(Card.id), col(Card.elder_id), col(Card.kind), col(Card.serial), col(Card.revoked_on),
                  col(Card.revoked_at))
        .where(in_values(session, col(Card.elder_id), ids), col(Card.revoked_at).is_not(None))
    ).all()  # fmt: skip
    return statuses, ended, cards


def _audit(session: Session, objects: Collection[str]) -> dict[tuple[str, str, str], tuple[datetime, str]]:
    """The latest audit entry of each registry fact of these objects: (action, object id, what) -> (when, who).
    ``what``: a status change's effective date, an ended category's code and last day; nothing for a card."""
    if not objects:
        return {}
    rows = session.execute(
        sa.select(
            col(AuditEntry.action),
            col(AuditEntry.object_id),
            col(AuditEntry.after),
            col(AuditEntry.at),
            col(AuditEntry.actor_name),
        )
        .where(in_values(session, col(AuditEntry.object_id), sorted(objects)), col(AuditEntry.action).in_(ACTIONS))
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
    )
    out: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    for action, object_id, entry, at, who in rows:
        after = entry or {}
        if action == CATEGORY_END:
            what = f"{after.get('code')}:{after.get('valid_to')}"
        elif action == CARD_REVOKE:
            what = ""
        else:
            what = str(after.get("effective_from"))
        out[(action, object_id, what)] = (at, who)
    return out


def _recorded_elders(session: Session, since: datetime) -> dict[uuid.UUID, datetime]:
    """Elders with a fact that can take a subsidy away (:data:`NOTICED`) recorded after ``since`` (from the audit
    log, by its time index), with the latest such time."""
    rows = session.execute(
        sa.select(col(AuditEntry.action), col(AuditEntry.object_id), col(AuditEntry.at)).where(
            col(AuditEntry.at) > since, col(AuditEntry.action).in_(NOTICED)
        )
    ).all()
    card_at: dict[uuid.UUID, datetime] = {}
    out: dict[uuid.UUID, datetime] = {}
    for action, object_id, at in rows:
        target = card_at if action == CARD_REVOKE else out
        key = _uuid(object_id)
        if key is not None:
            target[key] = max(at, target.get(key, at))
    if card_at:
        stmt = sa.select(col(Card.id), col(Card.elder_id)).where(in_values(session, col(Card.id), sorted(card_at)))
        for card_id, elder_id in session.execute(stmt):
            out[elder_id] = max(card_at[card_id], out.get(elder_id, card_at[card_id]))
    return out


def touched_since(
    session: Session, *, candidates: Mapping[uuid.UUID, Sequence[Month]], since: Mapping[uuid.UUID, datetime]
) -> set[tuple[uuid.UUID, Month]]:
    """Candidate (canteen, closed month) pairs with a subsidised sale of an elder whose status, category or card
    changed in the registry after the canteen's ``since``: two or three small queries for any number of
    canteens."""
    if not candidates:
        return set()
    recorded = _recorded_elders(session, min(since.values()))
    if not recorded:
        return set()
    origins = sorted({p for found in candidates.values() for p in found})
    stmt = (
        sa.select(col(Meal.canteen_id), col(Meal.elder_id), col(Meal.service_date))
        .where(
            in_values(session, col(Meal.elder_id), sorted(recorded)),
            in_values(session, col(Meal.canteen_id), sorted(candidates)),
            col(Meal.service_date) >= origins[0].first_day,
            col(Meal.service_date) < origins[-1].next().first_day,
            col(Meal.kind) == "sale",
            col(Meal.subsidy) > 0,
        )
        .distinct()
    )
    out: set[tuple[uuid.UUID, Month]] = set()
    for canteen_id, elder_id, day in session.execute(stmt):
        month = Month.of(day)
        if month in candidates[canteen_id] and recorded[elder_id] > since[canteen_id]:
            out.add((canteen_id, month))
    return out


def touched_canteens(session: Session, *, month: Month, canteens: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """The canteens with a subsidised sale in ``month`` of an elder whose status, categories, details or cards
    changed in the registry since the day before the month began: only their statements can differ from the
    rollups through the registry (a fact recorded earlier was seen by intake's re-quote, which flagged what it
    took away). Two or three small queries."""
    if not canteens:
        return set()
    since = datetime.combine(month.first_day - timedelta(days=1), time(0), UTC)
    recorded = _recorded_elders(session, since)
    if not recorded:
        return set()
    stmt = (
        sa.select(col(Meal.canteen_id))
        .where(
            in_values(session, col(Meal.elder_id), sorted(recorded)),
            in_values(session, col(Meal.canteen_id), sorted(canteens)),
            col(Meal.service_date) >= month.first_day,
            col(Meal.service_date) < month.next().first_day,
            col(Meal.kind) == "sale",
            col(Meal.subsidy) > 0,
        )
        .distinct()
    )
    return {c for (c,) in session.execute(stmt)}
