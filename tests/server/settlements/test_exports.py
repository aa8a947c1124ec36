"""Exports: the same data gives the same bytes (JSON, CSV with BOM, XLSX with fixed timestamps); the XLSX opens in
openpyxl with figures equal to the API's to the fen; category tiers are hidden from canteen managers; the whole
programme's month and the city-wide summary."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook

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


def test_exports_reproducible_and_xlsx_matches_the_api_to_the_fen(world: World) -> None:
    api = world.api
    sid = _month_with_a_category(world)
    for closed in (False, True):
        if closed:
            close(world, sid)
        body: dict[str, Any] = api.ok("GET", f"{S}/{sid}", api.auditor)
        for fmt in ("json", "csv", "xlsx"):
            assert _get(world, sid, fmt) == _get(world, sid, fmt), fmt
        csv = _get(world, sid, "csv")
        assert csv.startswith(b"\xef\xbb\xbf") and b"\r\n" in csv
        assert body["hash"].encode() in csv
        assert "K001 =SUM(A1) 改造".encode() in csv  # the line id first: never read as a formula
        xlsx = _get(world, sid, "xlsx")
        assert xlsx.startswith(XLSX_MAGIC)
        wb = load_workbook(io.BytesIO(xlsx))
        summary = {row[1]: row[2] for row in wb["汇总"].iter_rows(min_row=3, values_only=True)}
        t = body["statement"]["totals"]
        for key in ("payable", "elder_subsidy", "operating", "construction", "price", "elder_pays", "adjustments"):
            assert summary[f"{key}_fen"] == t[key], key
            assert isinstance(summary[f"{key}_fen"], int)
        assert summary["meals"] == t["meals"] and summary["statement_hash"] == body["hash"]
        assert wb["汇总"].cell(row=13, column=3).number_format == '0"."00'
        lines = list(wb["就餐补贴"].iter_rows(min_row=3, values_only=True))
        assert sum(int(str(r[6])) for r in lines) == t["elder_subsidy"]
        assert [r[2] for r in lines] == [x["tier"] or "原价" for x in body["statement"]["lines"]]


def test_canteen_manager_reads_own_statement_without_categories(world: World) -> None:
    api = world.api
    sid = _month_with_a_category(world)
    auditor = api.ok("GET", f"{S}/{sid}", api.auditor)
    manager = api.ok("GET", f"{S}/{sid}", api.manager(world.canteen_a))
    assert "tekun" in {x["tier"] for x in auditor["statement"]["lines"]}
    assert "tekun" not in {x["tier"] for x in manager["statement"]["lines"]}
    assert "category" in {x["tier"] for x in manager["statement"]["lines"]}
    assert manager["statement"]["totals"] == auditor["statement"]["totals"]
    for fmt in ("json", "csv", "xlsx"):
        data = _get(world, sid, fmt, api.manager(world.canteen_a))
        text = (
            data.decode("utf-8", "replace")
            if fmt != "xlsx"
            else str(
                [c for ws in load_workbook(io.BytesIO(data)) for row in ws.iter_rows(values_only=True) for c in row]
            )
        )
        assert "tekun" not in text and "特困" not in text, fmt
    assert api.client.get(f"{S}/{sid}", headers=api.manager(world.canteen_b)).status_code == 404
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
    wb = load_workbook(io.BytesIO(files["xlsx"]))
    rows = list(wb.active.iter_rows(min_row=3, values_only=True))  # type: ignore[union-attr]
    assert [r[0] for r in rows] == ["ry-01", "ry-02", "合计"]
    assert rows[0][3] == "closed" and rows[0][15] == a["payable"] and rows[2][15] == a["payable"]
    # One row of totals per canteen: the closed statement's hash, none for a canteen not closed.
    assert (rows[0][18], rows[1][3], rows[1][18]) == (closed["content_hash"], "none", None)
    body = json.loads(files["json"])
    assert [(c["canteen_code"], c["state"], c["statement_hash"]) for c in body["canteens"]] == [
        ("ry-01", "closed", closed["content_hash"]),
        ("ry-02", "none", None),
    ]
    assert body["canteens"][0]["totals"] == a and body["total"]["payable"] == a["payable"]
    table = list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig"))))
    by_canteen = {r[0]: (r[2], r[-1]) for r in table[2:]}
    assert by_canteen[world.canteen_a] == ("closed", closed["content_hash"])
    assert by_canteen[world.canteen_b] == ("none", "") and by_canteen["合计"] == ("", "")
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
