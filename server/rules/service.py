"""Rule books on the server: stored as versions, validated by ``ruyi.rules``, never edited once in force.

An upload is a whole rule book (what ``ruyi rules check`` reads). The first upload of a programme stores every
version (the bureau brings its history along). Later uploads must repeat every version that is in force or
past exactly as stored; versions not yet in force may be added, replaced or removed, and new ones must start
after today (in the programme's time zone).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from ruyi.rules import RuleBook, RuleVersion, load_rulebook, parse_rulebook
from server.audit import service as audit
from server.auth.principal import Principal
from server.base import utcnow
from server.errors import Conflict, Invalid, NotFound
from server.rules.tables import RuleProgramme, RuleVersionRow


def version_body(v: RuleVersion) -> dict[str, Any]:
    body: dict[str, Any] = v.model_dump(mode="json")
    return body


def today_in(book: RuleBook, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(book.zone).date()


def _rows(session: Session, programme: str) -> list[RuleVersionRow]:
    stmt = select(RuleVersionRow).where(col(RuleVersionRow.programme) == programme)
    return list(session.exec(stmt.order_by(col(RuleVersionRow.effective_from))))


def _assemble(header: RuleProgramme, rows: list[RuleVersionRow]) -> dict[str, Any]:
    return {
        "format": 1,
        "programme": header.code,
        "name": header.name,
        "timezone": header.timezone,
        "categories": dict(header.categories),
        "versions": [r.body for r in rows],
    }


def load_book(session: Session, programme: str) -> RuleBook | None:
    header = session.get(RuleProgramme, programme)
    if header is None:
        return None
    return load_rulebook(_assemble(header, _rows(session, programme)))


def get_book(session: Session, programme: str) -> tuple[RuleProgramme, RuleBook]:
    header = session.get(RuleProgramme, programme)
    if header is None:
        raise NotFound("补贴规则", "rule book")
    return header, load_rulebook(_assemble(header, _rows(session, programme)))


def list_programmes(session: Session) -> list[RuleProgramme]:
    return list(session.exec(select(RuleProgramme).order_by(col(RuleProgramme.code))))


def known_categories(session: Session) -> dict[str, tuple[str, list[str]]]:
    """Category codes declared by any stored rule book: code -> (name, programmes). The list is data."""
    out: dict[str, tuple[str, list[str]]] = {}
    for p in list_programmes(session):
        for code, name in p.categories.items():
            out.setdefault(code, (name, []))[1].append(p.code)
    return out


def upload(session: Session, *, actor: Principal, source: str, now: datetime | None = None) -> dict[str, Any]:
    book = parse_rulebook(source)  # InvalidRuleSet answers 422 with every problem and its path
    return apply_book(session, actor=actor, book=book, now=now)


def add_version(
    session: Session, *, actor: Principal, programme: str, version: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    header, _ = get_book(session, programme)
    data = _assemble(header, _rows(session, programme))
    data["versions"] = [*data["versions"], version]
    data["versions"].sort(key=lambda v: str(v.get("effective_from", "")))
    return apply_book(session, actor=actor, book=load_rulebook(data), now=now)


def apply_book(session: Session, *, actor: Principal, book: RuleBook, now: datetime | None = None) -> dict[str, Any]:
    """Store an uploaded rule book: versions in force are frozen, new ones start after today, the rest is
    replaced; audited when anything changed."""
    today = today_in(book, now)
    header = session.get(RuleProgramme, book.programme)
    stored = {r.version_id: r for r in _rows(session, book.programme)} if header else {}
    if header is not None:
        _check_frozen(header, stored, book, today)
    added, replaced, removed = _write_versions(session, actor, book, stored)
    header_changed = header is None or (header.name, header.categories) != (book.name, dict(book.categories))
    if header is None:
        header = RuleProgramme(
            code=book.programme, name=book.name, timezone=book.timezone, categories=dict(book.categories)
        )
    else:
        header.name, header.timezone, header.categories = book.name, book.timezone, dict(book.categories)
    changed = bool(added or replaced or removed or header_changed)
    if changed:
        header.updated_at = utcnow()
        session.add(header)
        audit.record(
            session,
            actor=actor,
            action="rulebook.upload",
            object_type="rulebook",
            object_id=book.programme,
            after={"added": added, "replaced": replaced, "removed": removed, "categories": sorted(book.categories)},
        )
    session.flush()
    outcome = {"added": added, "replaced": replaced, "removed": removed}
    return {"header": header, "book": book, "changed": changed, **outcome}


def _check_frozen(header: RuleProgramme, stored: dict[str, RuleVersionRow], book: RuleBook, today: date) -> None:
    """A version in force or past stays as it is (and so does the time zone); a new one starts after today."""
    incoming = {v.id: v for v in book.versions}
    frozen = [r for r in stored.values() if r.effective_from <= today]
    if frozen and header.timezone != book.timezone:
        raise Conflict(
            "已有版本生效，不能更改时区",
            "versions are in force: the time zone cannot change",
            code="rules.timezone_frozen",
        )
    for r in frozen:
        new = incoming.get(r.version_id)
        if new is None or version_body(new) != r.body:
            raise Conflict(
                f"版本 {r.version_id} 已生效或已过期，不能修改或删除（请新增一个版本）",
                f"version {r.version_id} is in force or past: it cannot be changed or removed (add a new version)",
                code="rules.version_frozen",
                version=r.version_id,
            )
    for i, v in enumerate(book.versions):
        old = stored.get(v.id)
        if old is not None and old.effective_from <= today:
            continue
        if v.effective_from <= today:
            raise Invalid.field(
                f"versions[{i}].effective_from",
                "rules.starts_too_early",
                f"新版本须从明天（{today}）之后开始生效",
                f"a new version must start after today ({today})",
            )


def _write_versions(
    session: Session, actor: Principal, book: RuleBook, stored: dict[str, RuleVersionRow]
) -> tuple[list[str], list[str], list[str]]:
    """Add new versions, replace changed future ones, delete the ones the book no longer lists."""
    incoming = {v.id for v in book.versions}
    added = [v.id for v in book.versions if v.id not in stored]
    replaced = [v.id for v in book.versions if v.id in stored and stored[v.id].body != version_body(v)]
    removed = [vid for vid in stored if vid not in incoming]
    for vid in (*replaced, *removed):
        session.delete(stored[vid])
    session.flush()
    for v in book.versions:
        if v.id in added or v.id in replaced:
            session.add(
                RuleVersionRow(
                    programme=book.programme,
                    version_id=v.id,
                    effective_from=v.effective_from,
                    effective_to=v.effective_to,
                    body=version_body(v),
                    created_by=actor.name,
                )
            )
    return added, replaced, removed


def version_state(book: RuleBook, index: int, today: date) -> str:
    v = book.versions[index]
    end = book.end_of(index)
    if v.effective_from > today:
        return "future"
    if end is not None and end < today:
        return "past"
    return "in_force"
