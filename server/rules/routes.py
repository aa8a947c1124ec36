from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from ruyi.rules import RuleBook
from server.auth.dependencies import RuleReader, RuleWriter
from server.db import SessionDep
from server.errors import NotFound, responses
from server.rules import service
from server.rules.schemas import CategoryOut, RuleBookOut, RuleBookUpload, RuleBookUploadResult, RuleVersionOut
from server.rules.tables import RuleProgramme

router = APIRouter(tags=["rules"])
ProgrammeCode = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


def book_out(header: RuleProgramme, book: RuleBook) -> RuleBookOut:
    today = service.today_in(book)
    return RuleBookOut(
        programme=book.programme,
        name=book.name,
        timezone=book.timezone,
        categories=dict(book.categories),
        updated_at=header.updated_at,
        versions=[version_out(book, i, today) for i in range(len(book.versions))],
    )


def version_out(book: RuleBook, index: int, today: date) -> RuleVersionOut:
    v = book.versions[index]
    return RuleVersionOut(
        id=v.id,
        effective_from=v.effective_from,
        ends_on=book.end_of(index),
        note=v.note,
        state=service.version_state(book, index, today),
        body=service.version_body(v),
    )


def _result(r: dict[str, Any]) -> RuleBookUploadResult:
    return RuleBookUploadResult(
        book=book_out(r["header"], r["book"]),
        changed=r["changed"],
        added=r["added"],
        replaced=r["replaced"],
        removed=r["removed"],
    )


@router.post("/rulebooks", response_model=RuleBookUploadResult, responses=responses(401, 403, 409, 422))
def upload_rulebook(body: RuleBookUpload, actor: RuleWriter, session: SessionDep) -> RuleBookUploadResult:
    """Upload a whole rule book (YAML or JSON text). Versions in force or past must be repeated unchanged;
    versions not yet in force may be added, replaced or removed. Uploading the same book again changes nothing."""
    result = service.upload(session, actor=actor, source=body.source)
    session.commit()
    return _result(result)


@router.post(
    "/rulebooks/{programme}/versions", response_model=RuleBookUploadResult, responses=responses(401, 403, 404, 409, 422)
)
def add_version(
    programme: ProgrammeCode,
    version: Annotated[dict[str, Any], Body(description="One version in the rule file format")],
    actor: RuleWriter,
    session: SessionDep,
) -> RuleBookUploadResult:
    """Add one version (it must start after today and not overlap the others)."""
    result = service.add_version(session, actor=actor, programme=programme, version=version)
    session.commit()
    return _result(result)


@router.get("/rulebooks", response_model=list[RuleBookOut], responses=responses(401, 403))
def list_rulebooks(_actor: RuleReader, session: SessionDep) -> list[RuleBookOut]:
    out = []
    for header in service.list_programmes(session):
        _, book = service.get_book(session, header.code)
        out.append(book_out(header, book))
    return out


@router.get("/rulebooks/{programme}", response_model=RuleBookOut, responses=responses(401, 403, 404))
def get_rulebook(programme: ProgrammeCode, _actor: RuleReader, session: SessionDep) -> RuleBookOut:
    header, book = service.get_book(session, programme)
    return book_out(header, book)


@router.get("/rulebooks/{programme}/in-force", response_model=RuleVersionOut, responses=responses(401, 403, 404))
def in_force(programme: ProgrammeCode, on: date, _actor: RuleReader, session: SessionDep) -> RuleVersionOut:
    """The version in force on a date (404 when none is)."""
    _, book = service.get_book(session, programme)
    for i, v in enumerate(book.versions):
        if book.version_on(on) is v:
            return version_out(book, i, service.today_in(book))
    raise NotFound(message=(f"{on} 无生效的规则版本", f"no version in force on {on}"))


@router.get("/categories", response_model=list[CategoryOut], responses=responses(401, 403))
def list_categories(_actor: RuleReader, session: SessionDep) -> list[CategoryOut]:
    """Category codes the stored rule books declare (an elder's categories must be one of these)."""
    return [
        CategoryOut(code=code, name=name, programmes=programmes)
        for code, (name, programmes) in sorted(service.known_categories(session).items())
    ]
