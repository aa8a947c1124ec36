"""Bulk import of elders from CSV or XLSX: read the file, check every row, then write all rows or none.

Columns (Chinese or English headers, any order): 姓名/name and 身份证号/id_number are required; 社区/community,
区域/area, 类别/categories (codes or names, separated by ; ， 、), 类别起始日期/categories_from, 入册日期/enrolled_on
and 食堂编号/canteen are optional. A row whose ID number is already registered under the same name is
"unchanged" (so importing a file twice changes nothing); under another name it is a duplicate in the registry.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import UploadFile
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlmodel import Session, col, select

from ruyi.eligibility import EnrolmentStatus
from ruyi.errors import InvalidResidentId, Problem
from ruyi.idnum import mask_id, parse_resident_id
from server.audit import service as audit
from server.auth.principal import Principal
from server.base import local_today, utcnow
from server.canteens.tables import Canteen
from server.config import Settings
from server.elders.schemas import ImportProblem, ImportReport, ImportRow
from server.elders.tables import Elder, ElderCategory, ElderImport, ElderStatusChange
from server.errors import Conflict, PayloadTooLarge, ServerError
from server.rules.service import known_categories

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "id_number"),
    "community": ("社区", "所在社区", "community"),
    "area": ("区域", "区域代码", "area"),
    "categories": ("类别", "人员类别", "categories"),
    "categories_from": ("类别起始日期", "categories_from"),
    "enrolled_on": ("入册日期", "登记日期", "enrolled_on"),
    "canteen": ("食堂编号", "所属食堂", "canteen"),
}
REQUIRED = ("name", "id_number")
_SPLIT = re.compile(r"[;；,，、\s]+")
_DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")
CHUNK = 2000


class ImportInvalid(ServerError):
    status, code = 422, "import.invalid"


@dataclass
class ParsedFile:
    format: str
    encoding: str | None
    header: list[str]
    rows: list[list[str]]


@dataclass
class Row:
    line: int
    values: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    id_number: str = ""
    birth_date: date | None = None
    sex: str = ""
    categories: list[str] = field(default_factory=list)
    categories_from: date | None = None
    enrolled_on: date | None = None
    canteen_id: uuid.UUID | None = None
    outcome: str = "new"


def _p(path: str, code: str, zh: str, en: str) -> Problem:
    return Problem(path=path, code=code, zh=zh, en=en)


def read_file(data: bytes, filename: str) -> ParsedFile | Problem:
    if not data.strip():
        return _p("file", "file.empty", "文件为空", "the file is empty")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return _p(
            "file",
            "file.xls_unsupported",
            "不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV",
            "old .xls files are not supported: save as .xlsx or CSV",
        )
    if data.startswith(b"PK") or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    return _read_csv(data)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(data: bytes) -> ParsedFile | Problem:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = wb.worksheets[0]
            table = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            wb.close()
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError, OSError, IndexError):
        return _p(
            "file", "file.unreadable", "无法读取该 XLSX 文件（文件已损坏或格式不对）", "cannot read this XLSX file"
        )
    table = [r for r in table if any(r)]
    if not table:
        return _p("file", "file.empty", "文件为空", "the file is empty")
    return ParsedFile(format="xlsx", encoding=None, header=table[0], rows=table[1:])


def _read_csv(data: bytes) -> ParsedFile | Problem:
    text: str | None = None
    encoding = ""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return _p(
            "file",
            "file.encoding",
            "无法识别文件编码（应为 UTF-8 或 GBK）",
            "unknown text encoding (expected UTF-8 or GBK)",
        )
    if "\x00" in text:
        return _p("file", "file.binary", "文件不是文本格式的 CSV", "the file is not a text CSV")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        table = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        return _p("file", "file.csv", f"CSV 格式错误：{exc}", f"malformed CSV: {exc}")
    table = [r for r in table if any(r)]
    if not table:
        return _p("file", "file.empty", "文件为空", "the file is empty")
    return ParsedFile(
        format="csv", encoding="utf-8" if encoding == "utf-8-sig" else encoding, header=table[0], rows=table[1:]
    )


def map_columns(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    index: dict[str, int] = {}
    problems: list[Problem] = []
    lookup = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}
    for i, title in enumerate(header):
        key = lookup.get(title.strip().lower())
        if key is not None and key not in index:
            index[key] = i
    for key in REQUIRED:
        if key not in index:
            zh_name, en_name = COLUMNS[key][0], COLUMNS[key][-1]
            problems.append(
                _p(
                    f"header.{key}",
                    "column.missing",
                    f"缺少必需的列“{zh_name}”",
                    f"the required column {en_name!r} is missing",
                )
            )
    return index, problems


def parse_date(text: str) -> date | None:
    m = _DATE.match(text.strip())
    if m is None:
        raise ValueError(text)
    return date(int(m[1]), int(m[2]), int(m[3]))


def _check_person(row: Row, values: dict[str, str], first_line: dict[str, int]) -> None:
    """The row's name and ID number (``first_line``: the line each number was first seen on)."""
    if not values["name"]:
        row.problems.append(_p("name", "name.missing", "姓名为空", "the name is empty"))
    elif len(values["name"]) > 64:
        row.problems.append(_p("name", "name.too_long", "姓名过长", "the name is too long"))
    try:
        rid = parse_resident_id(values["id_number"])
        row.id_number, row.birth_date, row.sex = rid.number, rid.birth_date, rid.sex.value
        seen = first_line.setdefault(rid.number, row.line)
        if seen != row.line:
            row.problems.append(
                _p(
                    "id_number",
                    "duplicate.in_file",
                    f"与第 {seen} 行身份证号重复",
                    f"same ID number as line {seen}",
                )
            )
    except InvalidResidentId as exc:
        row.problems.extend(_p("id_number", p.code, p.zh, p.en) for p in exc.problems)


def check_rows(session: Session, parsed: ParsedFile, index: dict[str, int]) -> list[Row]:
    categories = known_categories(session)
    by_name = {name: code for code, (name, _) in categories.items()}
    canteens = {c.code: c.id for c in session.exec(select(Canteen))}
    today = local_today()
    first_line: dict[str, int] = {}
    rows: list[Row] = []
    for n, raw in enumerate(parsed.rows):
        values = {key: (raw[i].strip() if i < len(raw) else "") for key, i in index.items()}
        row = Row(line=n + 2, values=values)
        rows.append(row)
        _check_person(row, values, first_line)
        for key in ("enrolled_on", "categories_from"):
            text = values.get(key, "")
            if text:
                try:
                    setattr(row, key, parse_date(text))
                except ValueError:
                    row.problems.append(
                        _p(key, "date.format", f"日期格式不正确：{text}", f"not a date (YYYY-MM-DD): {text}")
                    )
        row.enrolled_on = row.enrolled_on or today
        row.categories_from = row.categories_from or row.enrolled_on
        for token in _SPLIT.split(values.get("categories", "")):
            if not token:
                continue
            code = token if token in categories else by_name.get(token)
            if code is None:
                row.problems.append(
                    _p("categories", "category.unknown", f"未知类别：{token}", f"unknown category: {token}")
                )
            elif code not in row.categories:
                row.categories.append(code)
        canteen = values.get("canteen", "")
        if canteen:
            row.canteen_id = canteens.get(canteen)
            if row.canteen_id is None:
                row.problems.append(
                    _p("canteen", "canteen.unknown", f"未知食堂编号：{canteen}", f"unknown canteen code: {canteen}")
                )
    _check_registry(session, rows)
    for row in rows:
        if row.problems:
            row.outcome = "invalid"
    return rows


def _check_registry(session: Session, rows: list[Row]) -> None:
    wanted: dict[str, list[Row]] = {}
    for r in rows:
        if r.id_number:
            wanted.setdefault(r.id_number, []).append(r)
    numbers = list(wanted)
    for start in range(0, len(numbers), CHUNK):
        stmt = select(Elder.id_number, Elder.name).where(col(Elder.id_number).in_(numbers[start : start + CHUNK]))
        for number, name in session.exec(stmt):
            for row in wanted[number]:
                if row.values["name"] == name:
                    row.outcome = "unchanged"
                else:
                    row.problems.append(
                        _p(
                            "id_number",
                            "duplicate.in_registry",
                            f"该身份证号已登记（{mask_id(number)}），姓名不一致",
                            f"this ID number is already registered ({mask_id(number)}) under another name",
                        )
                    )


def _problem_out(p: Problem) -> ImportProblem:
    return ImportProblem(path=p.path, code=p.code, zh=p.zh, en=p.en)


def _report(
    *,
    dry_run: bool,
    status: str,
    filename: str,
    sha: str,
    parsed: ParsedFile | None,
    rows: list[Row],
    file_problems: Iterable[Problem] = (),
    import_id: uuid.UUID | None = None,
    counts: tuple[int, int] | None = None,
) -> ImportReport:
    new = sum(r.outcome == "new" for r in rows)
    unchanged = sum(r.outcome == "unchanged" for r in rows)
    if counts is not None:
        new, unchanged = counts
    return ImportReport(
        dry_run=dry_run,
        status=status,
        filename=filename,
        sha256=sha,
        format=parsed.format if parsed else "unknown",
        encoding=parsed.encoding if parsed else None,
        rows=len(parsed.rows) if parsed else 0,
        new=new,
        unchanged=unchanged,
        invalid=sum(r.outcome == "invalid" for r in rows),
        file_problems=[_problem_out(p) for p in file_problems],
        problem_rows=[
            ImportRow(
                line=r.line,
                id_number=mask_id(r.id_number or r.values.get("id_number", "")),
                outcome="invalid",
                problems=[_problem_out(p) for p in r.problems],
            )
            for r in rows
            if r.problems
        ],
        import_id=import_id,
    )


def run(session: Session, *, actor: Principal, settings: Settings, upload: UploadFile, dry_run: bool) -> ImportReport:
    data = upload.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"文件超过上限 {settings.max_upload_bytes} 字节", f"file larger than {settings.max_upload_bytes} bytes"
        )
    filename = (upload.filename or "upload")[:256]
    return import_bytes(session, actor=actor, settings=settings, data=data, filename=filename, dry_run=dry_run)


def import_bytes(
    session: Session, *, actor: Principal, settings: Settings, data: bytes, filename: str, dry_run: bool
) -> ImportReport:
    sha = hashlib.sha256(data).hexdigest()
    if not dry_run:
        done = session.exec(select(ElderImport).where(col(ElderImport.sha256) == sha)).first()
        if done is not None:
            return _already_imported(done, filename=filename, sha=sha)
    parsed = read_file(data, filename)
    if isinstance(parsed, Problem):
        return _file_invalid(dry_run, filename=filename, sha=sha, parsed=None, problems=[parsed])
    if len(parsed.rows) > settings.max_import_rows:
        raise PayloadTooLarge(
            f"文件有 {len(parsed.rows)} 行，超过上限 {settings.max_import_rows} 行",
            f"{len(parsed.rows)} rows, more than the limit of {settings.max_import_rows}",
        )
    index, header_problems = map_columns(parsed.header)
    if header_problems:
        return _file_invalid(dry_run, filename=filename, sha=sha, parsed=parsed, problems=header_problems)
    rows = check_rows(session, parsed, index)
    invalid = any(r.problems for r in rows)
    if dry_run or invalid:
        report = _report(
            dry_run=dry_run, status="invalid" if invalid else "ok", filename=filename, sha=sha, parsed=parsed, rows=rows
        )
        return _fail(dry_run, report) if invalid else report
    batch = _write(session, actor=actor, rows=rows, filename=filename, sha=sha)
    return _report(
        dry_run=False, status="imported", filename=filename, sha=sha, parsed=parsed, rows=rows, import_id=batch.id
    )


def _already_imported(done: ElderImport, *, filename: str, sha: str) -> ImportReport:
    return ImportReport(
        dry_run=False,
        status="already_imported",
        filename=filename,
        sha256=sha,
        format="unknown",
        encoding=None,
        rows=done.rows,
        new=0,
        unchanged=done.rows,
        invalid=0,
        file_problems=[],
        problem_rows=[],
        import_id=done.id,
    )


def _file_invalid(
    dry_run: bool, *, filename: str, sha: str, parsed: ParsedFile | None, problems: list[Problem]
) -> ImportReport:
    """A file that cannot be read, or whose header is wrong: reported (dry run) or refused, no row checked."""
    report = _report(
        dry_run=dry_run, status="invalid", filename=filename, sha=sha, parsed=parsed, rows=[], file_problems=problems
    )
    return _fail(dry_run, report)


def _fail(dry_run: bool, report: ImportReport) -> ImportReport:
    if dry_run:
        return report
    n = report.invalid or len(report.file_problems)
    raise ImportInvalid(
        f"导入文件有 {n} 处问题，未导入任何数据",
        f"{n} problem(s) in the file: nothing was imported",
        report=report.model_dump(mode="json"),
    )


def _new_records(
    new_rows: list[Row], *, import_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The elders, status changes and category spans the new rows become, as table rows."""
    now = utcnow()
    elders: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    cats: list[dict[str, Any]] = []
    for r in new_rows:
        eid = uuid.uuid4()
        elders.append(
            {
                "id": eid,
                "id_number": r.id_number,
                "id_tail": r.id_number[-4:],
                "name": r.values["name"],
                "birth_date": r.birth_date,
                "sex": r.sex,
                "community": r.values.get("community", ""),
                "area": r.values.get("area") or None,
                "canteen_id": r.canteen_id,
                "import_id": import_id,
                "created_at": now,
                "updated_at": now,
            }
        )
        statuses.append(
            {
                "id": uuid.uuid4(),
                "elder_id": eid,
                "status": EnrolmentStatus.ENROLLED.value,
                "effective_from": r.enrolled_on,
                "reason": "批量导入",
                "created_at": now,
            }
        )
        cats.extend(
            {
                "id": uuid.uuid4(),
                "elder_id": eid,
                "code": c,
                "valid_from": r.categories_from,
                "valid_to": None,
                "created_at": now,
            }
            for c in r.categories
        )
    return elders, statuses, cats


def _write(session: Session, *, actor: Principal, rows: list[Row], filename: str, sha: str) -> ElderImport:
    new_rows = [r for r in rows if r.outcome == "new"]
    batch = ElderImport(
        sha256=sha,
        filename=filename,
        rows=len(rows),
        created=len(new_rows),
        unchanged=len(rows) - len(new_rows),
        created_by=actor.name,
    )
    session.add(batch)
    session.flush()
    elders, statuses, cats = _new_records(new_rows, import_id=batch.id)
    try:
        for table, values in ((Elder, elders), (ElderStatusChange, statuses), (ElderCategory, cats)):
            for start in range(0, len(values), CHUNK):
                session.execute(sa.insert(table), values[start : start + CHUNK])
    except sa.exc.IntegrityError:
        # Someone registered one of these numbers (or imported this file) while we checked: nothing is kept.
        session.rollback()
        raise Conflict(
            "导入期间名册已变化，未导入任何数据，请重新导入",
            "the registry changed during the import: nothing was imported, run it again",
            code="import.conflict",
        ) from None
    audit.record(
        session,
        actor=actor,
        action="elder.import",
        object_type="elder_import",
        object_id=batch.id,
        after={"filename": filename, "sha256": sha, "rows": len(rows), "created": len(new_rows)},
    )
    return batch


def list_imports(session: Session) -> list[ElderImport]:
    return list(session.exec(select(ElderImport).order_by(col(ElderImport.created_at).desc())))
