"""Exports: the same data gives the same bytes (JSON, CSV with BOM, XLSX with fixed timestamps); the XLSX opens in
openpyxl with figures equal to the API's to the fen; category tiers are hidden from canteen managers; the whole
programme's month and the city-wide summary."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from pypdf import PdfReader

from ruyi.money import format_yuan
from tests.server.settlements.helpers import S, at, close, create, last_month
from tests.server.sync.helpers import World

XLSX_MAGIC = b"PK\x03\x04"


def _month_with_a_category(world: World) -> str:
    api = world.api
    e0, _, e2, _ = world.elders
    api.ok(
        "POST", f"/api/v1/elders/{e0}/categories", api.operator, 201, json={"code": "tekun", "valid_from": "2026-01-01"}
    )
    m = last_month()
    chain = world.chain(world.ta)
    for i, day in enumerate((m.last_day - timedelta(days=1), m.last_day)):
        chain.sale(elder=e0, when=at(day, 11, i))
        chain.sale(elder=e2, when=at(day, 11, 10 + i))
        chain.sale(when=at(day, 12, i))
    world.push(world.ta, chain.records)
    sid: str = create(world, world.canteen_a, m)["id"]
    api.ok("POST", f"{S}/{sid}/construction-lines", api.operator, 201, json={"amount": 123456, "note": "=SUM(A1) 改造"})
    return sid


def _get(world: World, sid: str, fmt: str, headers: dict[str, str] | None = None) -> bytes:
    r = world.api.client.get(f"{S}/{sid}/export", headers=headers or world.api.auditor, params={"format": fmt})
    assert r.status_code == 200, r.text
    data: bytes = r.content
    return data


def _xlsx(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


def _cover(wb: Any) -> dict[str, tuple[Any, Any]]:
    """The cover's (value, code) by key, and its title and signature rows."""
    return {r[1]: (r[2], r[3]) for r in wb["汇总"].iter_rows(min_row=3, values_only=True) if r[1]}


def _csv_block(data: bytes) -> dict[str, tuple[str, str]]:
    block = data.decode("utf-8-sig").split("\r\n\r\n")[0]
    return {r[2]: (r[1], r[3]) for r in csv.reader(io.StringIO(block))}


def test_exports_reproducible_and_fit_to_sign(world: World) -> None:
    api = world.api
    sid = _month_with_a_category(world)
    for state, zh in (("draft", "草稿"), ("closed", "已关闭")):
        if state == "closed":
            close(world, sid)
        body: dict[str, Any] = api.ok("GET", f"{S}/{sid}", api.auditor)
        assert body["state"] == state
        for fmt in ("json", "csv", "xlsx", "pdf"):
            assert _get(world, sid, fmt) == _get(world, sid, fmt), fmt
        t = body["statement"]["totals"]
        expected = {
            "programme": ("如意食堂老年助餐补贴", "ruyi-city"),
            "canteen_code": ("ry-01", "ry-01"),
            "canteen_name": ("如意食堂一号店", "如意食堂一号店"),
            "state": (zh, state),
            "statement_hash": (body["hash"], body["hash"]),
        }
        data = _get(world, sid, "csv")
        assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
        block = _csv_block(data)
        assert {k: block[k] for k in expected} == expected
        assert block["month"][1] == str(last_month()) and block["rule_versions"][0].startswith("2026.")
        assert "K001 =SUM(A1) 改造".encode() in data  # the line id first: never read as a formula
        assert ",特困（五保）,tekun,".encode() in data  # the label, and the code beside it

        wb = _xlsx(_get(world, sid, "xlsx"))
        assert wb.sheetnames[0] == "汇总" and wb["汇总"]["A1"].value.startswith("如意食堂老年助餐补贴 结算单")
        cover = _cover(wb)
        assert {k: cover[k] for k in expected} == {k: (v[0], v[1]) for k, v in expected.items()}
        for key in ("payable", "elder_subsidy", "operating", "construction", "price", "elder_pays", "adjustments"):
            assert cover[f"{key}_fen"][0] == t[key], key
            assert isinstance(cover[f"{key}_fen"][0], int)
        assert cover["meals"][0] == t["meals"]
        signatures = [r for r in wb["汇总"].iter_rows(values_only=True) if r[1] in {"prepared_by", "reviewed_by",
                                                                                  "approved_by"}]  # fmt: skip
        assert [(r[0], r[3]) for r in signatures] == [("制表人（签字）", "日期"), ("审核人（签字）", "日期"),
                                                      ("批准人（签字）", "日期")]  # fmt: skip
        lines_ws = wb["就餐补贴"]
        *lines, total = list(lines_ws.iter_rows(min_row=3, values_only=True))
        assert total[0] == "合计"
        assert total[5] == sum(r[5] for r in lines) == t["meals"]
        assert total[7] == sum(r[7] for r in lines) == t["price"]
        assert total[8] == sum(r[8] for r in lines) == t["elder_subsidy"]
        assert lines_ws.cell(row=3, column=9).number_format == '0"."00'
        assert [r[3] or "" for r in lines] == [x["tier"] for x in body["statement"]["lines"]]
        assert "特困（五保）" in {r[2] for r in lines} and "tekun" not in {r[2] for r in lines}
        assert body["hash"] in lines_ws.oddFooter.center.text and "&P" in lines_ws.oddFooter.center.text

        pdf = _get(world, sid, "pdf")
        pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
        for i, text in enumerate(pages, 1):
            assert f"第 {i} 页 / 共 {len(pages)} 页" in text and body["hash"] in text, i
        assert all(x in pages[0] for x in ("如意食堂老年助餐补贴 结算单", "ry-01 如意食堂一号店", zh))
        assert "特困（五保）" in "".join(pages) and "批准人" in pages[-1]


def test_canteen_manager_reads_own_statement_without_categories(world: World) -> None:
    api = world.api
    sid = _month_with_a_category(world)
    auditor = api.ok("GET", f"{S}/{sid}", api.auditor)
    manager = api.ok("GET", f"{S}/{sid}", api.manager(world.canteen_a))
    assert "tekun" in {x["tier"] for x in auditor["statement"]["lines"]}
    assert "tekun" not in {x["tier"] for x in manager["statement"]["lines"]}
    assert "category" in {x["tier"] for x in manager["statement"]["lines"]}
    assert manager["statement"]["totals"] == auditor["statement"]["totals"]
    for fmt in ("json", "csv", "xlsx", "pdf"):
        data = _get(world, sid, fmt, api.manager(world.canteen_a))
        if fmt == "xlsx":
            text = str([c for ws in _xlsx(data) for row in ws.iter_rows(values_only=True) for c in row])
        elif fmt == "pdf":
            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
        else:
            text = data.decode("utf-8", "replace")
        assert "tekun" not in text and "特困" not in text, fmt
        if fmt != "json":
            assert "按类别补贴" in text and "内容哈希（本视图）" in text, fmt
    assert api.client.get(f"{S}/{sid}", headers=api.manager(world.canteen_b)).status_code == 404
    for fmt in ("csv", "pdf"):
        r = api.client.get(f"{S}/{sid}/export", headers=api.manager(world.canteen_b), params={"format": fmt})
        assert r.status_code == 404, fmt
    r = api.client.get(f"{S}/{sid}/export", headers=api.manager(world.canteen_a), params={"format": "pdf"})
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="statement-ry-01-{last_month()}.pdf"'
    assert (
        api.client.get(
            "/api/v1/settlement-programme", headers=api.manager(world.canteen_a), params={"month": "2026-01"}
        ).status_code
        == 403
    )


def test_programme_month_and_city_summary(world: World) -> None:
    api = world.api
    sid = _month_with_a_category(world)
    m = last_month()
    closed = close(world, sid)
    a = api.ok("GET", f"{S}/{sid}", api.auditor)["statement"]["totals"]
    files: dict[str, bytes] = {}
    for fmt in ("json", "csv", "xlsx"):
        first = api.client.get(
            "/api/v1/settlement-programme", headers=api.auditor, params={"month": str(m), "format": fmt}
        )
        second = api.client.get(
            "/api/v1/settlement-programme", headers=api.auditor, params={"month": str(m), "format": fmt}
        )
        assert first.status_code == 200 and first.content == second.content, fmt
        files[fmt] = first.content
    digest = hashlib.sha256(files["json"]).hexdigest()
    wb = _xlsx(files["xlsx"])
    assert wb.sheetnames == ["汇总", "全市汇总"]
    cover = _cover(wb)
    assert cover["month"] == (f"{m.year}年{m.month:02d}月", str(m)) and cover["content_hash"] == (digest, digest)
    assert cover["states"] == ("未建结算单 1，已关闭 1", "none:1;closed:1")
    assert cover["payable_fen"][0] == a["payable"]
    rows = list(wb["全市汇总"].iter_rows(min_row=3, values_only=True))
    assert [(r[1], r[2]) for r in rows] == [
        ("ry-01", "如意食堂一号店"),
        ("ry-02", "如意食堂二号店"),
        ("合计", "2 个食堂"),
    ]
    assert rows[0][:6] == ("如意食堂老年助餐补贴", "ry-01", "如意食堂一号店", str(m), "已关闭", "closed")
    assert rows[0][17] == a["payable"] and rows[2][17] == a["payable"]
    # One row of totals per canteen: the closed statement's hash, none for a canteen not closed.
    assert (rows[0][20], rows[1][4], rows[1][5], rows[1][20]) == (closed["content_hash"], "未建结算单", "none", None)
    assert digest in wb["全市汇总"].oddFooter.center.text
    body = json.loads(files["json"])
    assert [(c["canteen_code"], c["state"], c["statement_hash"]) for c in body["canteens"]] == [
        ("ry-01", "closed", closed["content_hash"]),
        ("ry-02", "none", None),
    ]
    assert body["canteens"][0]["totals"] == a and body["total"]["payable"] == a["payable"]
    assert _csv_block(files["csv"])["content_hash"] == (digest, digest)
    table = list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig").split("\r\n\r\n")[1])))
    keys = table[1]
    by_canteen = {r[keys.index("canteen_id")]: dict(zip(keys, r, strict=True)) for r in table[2:]}
    first = by_canteen[world.canteen_a]
    assert (first["canteen_code"], first["canteen_name"], first["state"], first["state_code"]) == (
        "ry-01",
        "如意食堂一号店",
        "已关闭",
        "closed",
    )
    assert first["statement_hash"] == closed["content_hash"]
    second = by_canteen[world.canteen_b]
    assert (second["canteen_name"], second["state"], second["statement_hash"]) == ("如意食堂二号店", "未建结算单", "")
    assert by_canteen[""]["canteen_code"] == "合计" and by_canteen[""]["payable_yuan"] == format_yuan(
        a["payable"], symbol=False
    )
    summary = api.ok(
        "GET", "/api/v1/settlement-summary", api.auditor, params={"from_month": str(m), "to_month": str(m.next())}
    )
    mine = [r for r in summary["rows"] if r["canteen_code"] == "ry-01" and r["month"] == str(m)]
    assert mine[0]["state"] == "closed" and mine[0]["payable"] == a["payable"] and mine[0]["elders"] == 2
    assert mine[0]["statement_hash"] == closed["content_hash"]
    assert {r["statement_hash"] for r in summary["rows"] if r["state"] != "closed"} == {None}
    assert summary["totals"]["payable"] == sum(r["payable"] for r in summary["rows"])
    x1 = api.client.get(
        "/api/v1/settlement-summary",
        headers=api.auditor,
        params={"from_month": str(m), "to_month": str(m), "format": "xlsx"},
    )
    x2 = api.client.get(
        "/api/v1/settlement-summary",
        headers=api.auditor,
        params={"from_month": str(m), "to_month": str(m), "format": "xlsx"},
    )
    assert x1.status_code == 200 and x1.content == x2.content
