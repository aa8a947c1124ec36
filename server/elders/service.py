"""Elders: registration, status history, categories, search. The full ID number is read only through
``elder_out`` for callers holding elders.read_full; audit snapshots carry the masked number."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange, age_on
from ruyi.errors import InvalidResidentId
from ruyi.idnum import mask_id, mask_name, parse_resident_id
from server.audit import service as audit
from server.auth.principal import Perm, Principal
from server.base import local_today, utcnow
from server.canteens.tables import Canteen
from server.cards.tables import Card
from server.elders.schemas import CategorySpanOut, ElderOut, StatusOut
from server.elders.tables import Elder, ElderCategory, ElderStatusChange
from server.errors import Conflict, Invalid, NotFound
from server.rules.service import known_categories
from server.sql import in_values

CLOSED = frozenset({EnrolmentStatus.CANCELLED, EnrolmentStatus.DECEASED})
"""Statuses that end an enrolment: nothing follows them (no status change, no card)."""
NOT_ELIGIBLE = CLOSED | {EnrolmentStatus.SUSPENDED}
"""Statuses under which a meal is not subsidised (intake flags a subsidised one)."""


def elder_snapshot(e: Elder) -> dict[str, Any]:
    """For the audit log: never the full ID number."""
    return {
        "name": e.name,
        "id_number": mask_id(e.id_number),
        "community": e.community,
        "area": e.area,
        "canteen_id": str(e.canteen_id) if e.canteen_id else None,
    }


def duplicate(existing: Elder) -> Conflict:
    return Conflict(
        f"该身份证号已登记（{mask_id(existing.id_number)}），不能重复登记",
        f"this ID number is already registered ({mask_id(existing.id_number)})",
        code="elder.duplicate_id",
        existing_id=str(existing.id),
        existing_href=f"/api/v1/elders/{existing.id}",
    )


def parse_id(text: str, *, path: str = "id_number") -> tuple[str, date, str]:
    try:
        rid = parse_resident_id(text)
    except InvalidResidentId as exc:
        p = exc.problems[0]
        raise Invalid.field(path, p.code, p.zh, p.en) from None
    return rid.number, rid.birth_date, rid.sex.value


def check_categories(session: Session, spans: list[dict[str, Any]], *, path: str = "categories") -> None:
    known = known_categories(session)
    for i, span in enumerate(spans):
        if span["code"] not in known:
            raise Invalid.field(
                f"{path}[{i}].code",
                "category.unknown",
                f"类别 {span['code']} 未在任何补贴规则中声明",
                f"category {span['code']} is not declared by any rule book",
            )
        if span.get("valid_to") is not None and span["valid_to"] < span["valid_from"]:
            raise Invalid.field(
                f"{path}[{i}].valid_to", "dates_reversed", "结束日期早于开始日期", "ends before it starts"
            )


def _check_canteen(session: Session, canteen_id: uuid.UUID | None) -> None:
    if canteen_id is not None and session.get(Canteen, canteen_id) is None:
        raise Invalid.field("canteen_id", "canteen.unknown", "食堂不存在", "no such canteen")


def register(
    session: Session,
    *,
    actor: Principal,
    name: str,
    id_number: str,
    community: str = "",
    area: str | None = None,
    canteen_id: uuid.UUID | None = None,
    enrolled_on: date | None = None,
    categories: list[dict[str, Any]] | None = None,
) -> Elder:
    number, birth, sex = parse_id(id_number)
    spans = categories or []
    check_categories(session, spans)
    _check_canteen(session, canteen_id)
    existing = session.exec(select(Elder).where(col(Elder.id_number) == number)).first()
    if existing is not None:
        raise duplicate(existing)
    elder = Elder(
        id_number=number,
        id_tail=number[-4:],
        name=name.strip(),
        birth_date=birth,
        sex=sex,
        community=community.strip(),
        area=area,
        canteen_id=canteen_id,
    )
    session.add(elder)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # Lost a race with a concurrent registration of the same number: answer as the duplicate it is.
        session.rollback()
        existing = session.exec(select(Elder).where(col(Elder.id_number) == number)).first()
        if existing is None:
            raise
        raise duplicate(existing) from None
    session.add(
        ElderStatusChange(
            elder_id=elder.id,
            status=EnrolmentStatus.ENROLLED.value,
            effective_from=enrolled_on or local_today(),
            reason="登记",
        )
    )
    for span in spans:
        session.add(ElderCategory(elder_id=elder.id, **span))
    audit.record(
        session,
        actor=actor,
        action="elder.register",
        object_type="elder",
        object_id=elder.id,
        canteen_id=canteen_id,
        after={**elder_snapshot(elder), "categories": [s["code"] for s in spans]},
    )
    return elder


def get_elder(session: Session, *, actor: Principal, elder_id: uuid.UUID) -> Elder:
    elder = session.get(Elder, elder_id)
    if elder is None or (actor.canteen_id is not None and elder.canteen_id != actor.canteen_id):
        raise NotFound("老人", "elder")
    return elder


def update(session: Session, *, actor: Principal, elder_id: uuid.UUID, changes: dict[str, Any]) -> Elder:
    elder = get_elder(session, actor=actor, elder_id=elder_id)
    if "canteen_id" in changes:
        _check_canteen(session, changes["canteen_id"])
    before = elder_snapshot(elder)
    for key, value in changes.items():
        setattr(elder, key, value.strip() if isinstance(value, str) else value)
    elder.updated_at = utcnow()
    session.add(elder)
    audit.record(
        session,
        actor=actor,
        action="elder.update",
        object_type="elder",
        object_id=elder.id,
        canteen_id=elder.canteen_id,
        before=before,
        after=elder_snapshot(elder),
    )
    return elder


def statuses_of(session: Session, elder_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ElderStatusChange]]:
    out: dict[uuid.UUID, list[ElderStatusChange]] = defaultdict(list)
    if elder_ids:
        stmt = select(ElderStatusChange).where(col(ElderStatusChange.elder_id).in_(elder_ids))
        for row in session.exec(
            stmt.order_by(col(ElderStatusChange.effective_from), col(ElderStatusChange.created_at))
        ):
            out[row.elder_id].append(row)
    return out


def categories_of(session: Session, elder_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ElderCategory]]:
    out: dict[uuid.UUID, list[ElderCategory]] = defaultdict(list)
    if elder_ids:
        stmt = select(ElderCategory).where(col(ElderCategory.elder_id).in_(elder_ids))
        for row in session.exec(stmt.order_by(col(ElderCategory.valid_from), col(ElderCategory.code))):
            out[row.elder_id].append(row)
    return out


def profiles_of(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, ElderProfile]:
    """What ``ruyi.pricing.quote`` needs of these elders (no name, no ID number): status history and categories,
    in three column queries (no ORM objects: intake builds hundreds of these per batch)."""
    if not ids:
        return {}
    elders = session.execute(
        sa.select(col(Elder.id), col(Elder.birth_date), col(Elder.area)).where(in_values(session, col(Elder.id), ids))
    ).all()
    statuses: dict[uuid.UUID, list[StatusChange]] = defaultdict(list)
    for row in session.execute(
        sa.select(col(ElderStatusChange.elder_id), col(ElderStatusChange.status), col(ElderStatusChange.effective_from))
        .where(in_values(session, col(ElderStatusChange.elder_id), ids))
        .order_by(col(ElderStatusChange.effective_from), col(ElderStatusChange.created_at))
    ):
        statuses[row.elder_id].append(
            StatusChange(status=EnrolmentStatus(row.status), effective_from=row.effective_from)
        )
    cats: dict[uuid.UUID, list[CategorySpan]] = defaultdict(list)
    for row in session.execute(
        sa.select(
            col(ElderCategory.elder_id),
            col(ElderCategory.code),
            col(ElderCategory.valid_from),
            col(ElderCategory.valid_to),
        )
        .where(in_values(session, col(ElderCategory.elder_id), ids))
        .order_by(col(ElderCategory.valid_from), col(ElderCategory.code))
    ):
        cats[row.elder_id].append(CategorySpan(code=row.code, valid_from=row.valid_from, valid_to=row.valid_to))
    return {
        e.id: ElderProfile(
            elder_id=str(e.id),
            birth_date=e.birth_date,
            area=e.area,
            statuses=tuple(statuses[e.id]),
            categories=tuple(cats[e.id]),
        )
        for e in elders
    }


def profile(session: Session, elder: Elder) -> ElderProfile:  # integrator: remove after merge (bench/server_intake.py)
    return profiles_of(session, [elder.id])[elder.id]


def change_status(
    session: Session,
    *,
    actor: Principal,
    elder_id: uuid.UUID,
    status: EnrolmentStatus,
    effective_from: date,
    reason: str,
) -> ElderStatusChange:
    """Suspend, resume, cancel (注销) or record a death. History is only appended: a change may not take effect
    before the latest one, and nothing follows a cancellation or death."""
    elder = get_elder(session, actor=actor, elder_id=elder_id)
    history = statuses_of(session, [elder.id])[elder.id]
    latest = history[-1] if history else None
    if latest is not None and EnrolmentStatus(latest.status) in CLOSED:
        raise Conflict(
            "该老人已注销，不能再变更状态",
            "the elder's enrolment is closed (cancelled or deceased)",
            code="elder.closed",
        )
    if latest is not None and effective_from < latest.effective_from:
        raise Invalid.field(
            "effective_from",
            "status.before_latest",
            f"生效日期不能早于上一次变更（{latest.effective_from}）",
            f"cannot take effect before the latest change ({latest.effective_from})",
        )
    if latest is not None and EnrolmentStatus(latest.status) is status:
        raise Conflict(f"状态已是 {status.value}", f"status is already {status.value}", code="elder.status_unchanged")
    if status is not EnrolmentStatus.ENROLLED and not reason.strip():
        raise Invalid.field("reason", "missing", "请填写原因", "a reason is required")
    row = ElderStatusChange(
        elder_id=elder.id, status=status.value, effective_from=effective_from, reason=reason.strip()
    )
    session.add(row)
    elder.updated_at = utcnow()
    session.add(elder)
    audit.record(
        session,
        actor=actor,
        action=f"elder.status.{status.value}",
        object_type="elder",
        object_id=elder.id,
        canteen_id=elder.canteen_id,
        before={"status": latest.status if latest else None},
        after={"status": status.value, "effective_from": effective_from.isoformat(), "reason": reason},
    )
    return row


def add_category(
    session: Session, *, actor: Principal, elder_id: uuid.UUID, code: str, valid_from: date, valid_to: date | None
) -> ElderCategory:
    elder = get_elder(session, actor=actor, elder_id=elder_id)
    check_categories(session, [{"code": code, "valid_from": valid_from, "valid_to": valid_to}], path="category")
    row = ElderCategory(elder_id=elder.id, code=code, valid_from=valid_from, valid_to=valid_to)
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="elder.category.add",
        object_type="elder",
        object_id=elder.id,
        canteen_id=elder.canteen_id,
        after={
            "code": code,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return row


def end_category(
    session: Session, *, actor: Principal, elder_id: uuid.UUID, category_id: uuid.UUID, valid_to: date
) -> ElderCategory:
    elder = get_elder(session, actor=actor, elder_id=elder_id)
    row = session.get(ElderCategory, category_id)
    if row is None or row.elder_id != elder.id:
        raise NotFound("类别记录", "category span")
    if valid_to < row.valid_from:
        raise Invalid.field("valid_to", "dates_reversed", "结束日期早于开始日期", "ends before it starts")
    before = {"code": row.code, "valid_to": row.valid_to.isoformat() if row.valid_to else None}
    row.valid_to = valid_to
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="elder.category.end",
        object_type="elder",
        object_id=elder.id,
        canteen_id=elder.canteen_id,
        before=before,
        after={"code": row.code, "valid_to": valid_to.isoformat()},
    )
    return row


def search(
    session: Session,
    *,
    actor: Principal,
    name: str | None = None,
    id_number: str | None = None,
    id_tail: str | None = None,
    card_serial: str | None = None,
    community: str | None = None,
    canteen_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Elder]]:
    stmt = select(Elder)
    conds: list[sa.ColumnElement[bool]] = []
    if actor.canteen_id is not None:
        conds.append(col(Elder.canteen_id) == actor.canteen_id)
    if canteen_id is not None:
        conds.append(col(Elder.canteen_id) == canteen_id)
    if name:
        conds.append(col(Elder.name).contains(name.strip(), autoescape=True))
    if id_number:
        conds.append(col(Elder.id_number) == id_number.strip().upper())
    if id_tail:
        masked = id_tail.strip().upper()
        conds.append(col(Elder.id_tail) == masked[-4:])
        prefix = masked.split("*", 1)[0] if "*" in masked else ""
        if prefix:
            conds.append(col(Elder.id_number).startswith(prefix, autoescape=True))
    if community:
        conds.append(col(Elder.community).contains(community.strip(), autoescape=True))
    if card_serial:
        sub = select(Card.elder_id).where(
            col(Card.serial) == normalise_serial(card_serial), col(Card.revoked_at).is_(None)
        )
        conds.append(col(Elder.id).in_(sub))
    if conds:
        stmt = stmt.where(*conds)
    total = session.exec(select(sa.func.count()).select_from(stmt.subquery())).one()
    rows = list(session.exec(stmt.order_by(col(Elder.name), col(Elder.id)).limit(limit).offset(offset)))
    return int(total), rows


def normalise_serial(serial: str) -> str:
    return "".join(ch for ch in serial.strip().upper() if ch not in " :-")


def elder_outs(session: Session, *, actor: Principal, elders: list[Elder], today: date | None = None) -> list[ElderOut]:
    today = today or local_today()
    ids = [e.id for e in elders]
    statuses = statuses_of(session, ids)
    cats = categories_of(session, ids) if actor.can(Perm.CATEGORIES_READ) and not actor.canteen_scoped else None
    full = actor.can(Perm.ELDERS_READ_FULL) and not actor.canteen_scoped
    profiles = profiles_of(session, ids)
    out = []
    for e in elders:
        hist = statuses[e.id]
        out.append(
            ElderOut(
                id=e.id,
                name=mask_name(e.name) if actor.canteen_scoped else e.name,
                id_number=e.id_number if full else mask_id(e.id_number),
                id_number_masked=not full,
                birth_date=e.birth_date if full else None,
                age=age_on(e.birth_date, today),
                sex=e.sex,
                community=e.community,
                area=e.area,
                canteen_id=e.canteen_id,
                status=profiles[e.id].status_on(today),
                statuses=[
                    StatusOut(
                        id=s.id,
                        status=EnrolmentStatus(s.status),
                        effective_from=s.effective_from,
                        reason=s.reason,
                        created_at=s.created_at,
                    )
                    for s in hist
                ],
                categories=None
                if cats is None
                else [
                    CategorySpanOut(id=c.id, code=c.code, valid_from=c.valid_from, valid_to=c.valid_to)
                    for c in cats[e.id]
                ],
                created_at=e.created_at,
                updated_at=e.updated_at,
            )
        )
    return out
