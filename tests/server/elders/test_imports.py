from __future__ import annotations

import io
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import Workbook

from server.app import create_app
from tests.server.conftest import Api
from tests.server.helpers import canteen, elder, id_number, upload_city_rules

HEADER = "姓名,身份证号,社区,类别,入册日期,食堂编号"


def _csv(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode(encoding)


def _rows(n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(start, start + n):
        number = id_number(i, born=date(1940 + i // 100, 1 + i % 12, 1))
        out.append(f"老人{i},{number},湖南路社区,低保,2026-01-01,ry-01")
    return out


def _post(api: Api, data: bytes, *, dry_run: bool, name: str = "elders.csv") -> Any:
    url = "/api/v1/elder-imports/dry-run" if dry_run else "/api/v1/elder-imports"
    return api.client.post(url, headers=api.operator, files={"file": (name, data, "text/csv")})


def _count(api: Api) -> int:
    with api.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM elders")).scalar_one())


def _setup(api: Api) -> None:
    upload_city_rules(api)
    canteen(api)


def test_gbk_csv_dry_run_then_import_then_again(api: Api) -> None:
    _setup(api)
    data = _csv(_rows(30), "gbk")
    r = _post(api, data, dry_run=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["status"], report["encoding"], report["rows"], report["new"]) == ("ok", "gb18030", 30, 30)
    assert _count(api) == 0  # a dry run writes nothing
    done = _post(api, data, dry_run=False).json()
    assert done["status"] == "imported" and done["new"] == 30
    assert _count(api) == 30
    again = _post(api, data, dry_run=False).json()
    assert again["status"] == "already_imported" and again["import_id"] == done["import_id"]
    assert _count(api) == 30
    one = api.ok("GET", "/api/v1/elders?name=老人7", api.operator)["items"][0]
    assert [c["code"] for c in one["categories"]] == ["dibao"] and one["status"] == "enrolled"
    # A longer list that repeats the imported people under the same names adds only the new ones.
    bigger = _post(api, _csv(_rows(40), "utf-8"), dry_run=False).json()
    assert (bigger["new"], bigger["unchanged"]) == (10, 30)
    assert _count(api) == 40
    audit = api.ok("GET", "/api/v1/audit?action=elder.import", api.admin)
    assert len(audit) == 2 and all("id_number" not in str(a["after"]) for a in audit)


def test_utf8_bom_and_xlsx(api: Api) -> None:
    _setup(api)
    report = _post(api, b"\xef\xbb\xbf" + _csv(_rows(3)), dry_run=True).json()
    assert (report["status"], report["encoding"], report["new"]) == ("ok", "utf-8", 3)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["身份证号", "姓名", "类别"])  # any column order
    for i in range(5):
        ws.append([id_number(i), f"表格{i}", "特困（五保）、孤寡/独居"])  # categories by name
    buf = io.BytesIO()
    wb.save(buf)
    r = _post(api, buf.getvalue(), dry_run=False, name="名单.xlsx")
    assert r.status_code == 200, r.text
    assert (r.json()["format"], r.json()["new"]) == ("xlsx", 5)
    assert _count(api) == 5
    one = api.ok("GET", "/api/v1/elders?name=表格3", api.operator)["items"][0]
    assert sorted(c["code"] for c in one["categories"]) == ["living_alone", "tekun"]


def test_every_row_problem_is_reported_and_nothing_is_imported(api: Api) -> None:
    _setup(api)
    elder(api, 90)  # registered as 张三丰
    good = id_number(1)
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    lines = [
        f"甲,{id_number(2)},社区,,2026-01-01,ry-01",
        f"乙,{bad_check},社区,,2026-01-01,ry-01",
        f"丙,{id_number(3)},社区,金卡会员,2026-01-01,ry-01",
        f"丁,{id_number(2)},社区,,2026-01-01,ry-01",
        f"戊,{id_number(90)},社区,,2026-01-01,ry-01",
        f",{id_number(4)},社区,,2026-13-01,ry-99",
        "己,12345,社区,,,",
    ]
    report = _post(api, _csv(lines), dry_run=True).json()
    assert report["status"] == "invalid"
    by_line = {row["line"]: [p["code"] for p in row["problems"]] for row in report["problem_rows"]}
    assert by_line == {
        3: ["id.check_char"],
        4: ["category.unknown"],
        5: ["duplicate.in_file"],
        6: ["duplicate.in_registry"],
        7: ["name.missing", "date.format", "canteen.unknown"],
        8: ["id.length"],
    }
    assert report["new"] == 1 and report["invalid"] == 6
    r = _post(api, _csv(lines), dry_run=False)
    assert r.status_code == 422
    assert r.json()["error"] == "import.invalid"
    assert r.json()["detail"]["report"]["invalid"] == 6
    assert _count(api) == 1


def test_malformed_files_give_a_report(api: Api) -> None:
    _setup(api)
    cases = {
        "column.missing": ("名单.csv", "姓名,社区\r\n张三,湖南路\r\n".encode()),
        "file.empty": ("empty.csv", b""),
        "file.encoding": ("x.csv", bytes(range(128, 256)) * 4),
        "file.unreadable": ("x.xlsx", b"PK\x03\x04 not really a zip"),
        "file.xls_unsupported": ("x.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 64),
        "file.binary": ("x.csv", b"a,b\x00c\n"),
    }
    for code, (name, data) in cases.items():
        r = _post(api, data, dry_run=True, name=name)
        assert r.status_code == 200, (code, r.text)
        assert [p["code"] for p in r.json()["file_problems"]] == [code], code
        r = _post(api, data, dry_run=False, name=name)
        assert r.status_code == 422, (code, r.text)


def test_size_and_row_limits_are_413(api: Api) -> None:
    settings = api.settings.model_copy(update={"max_upload_bytes": 4096, "max_import_rows": 20})
    with TestClient(create_app(settings, engine=api.engine)) as client:
        headers = api.operator
        big = _csv(_rows(100))
        assert len(big) > 4096
        r = client.post("/api/v1/elder-imports/dry-run", headers=headers, files={"file": ("a.csv", big)})
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
        r = client.post("/api/v1/elder-imports/dry-run", headers=headers, files={"file": ("a.csv", _csv(_rows(21)))})
        assert r.status_code == 413 and "more than the limit of 20" in r.json()["detail"]["en"]
        r = client.post("/api/v1/elder-imports/dry-run", headers=headers, files={"file": ("a.csv", _csv(_rows(20)))})
        assert r.status_code == 200


def test_only_registry_writers_import(api: Api) -> None:
    for headers in (api.auditor, api.manager(canteen(api)["id"])):
        r = api.client.post("/api/v1/elder-imports/dry-run", headers=headers, files={"file": ("a.csv", b"x")})
        assert r.status_code == 403
