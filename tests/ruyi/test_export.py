"""CSV exports of a statement and of the programme's month, golden-checked: the title block (programme, canteen
code and name, month, state in Chinese, rule versions, hash), tier labels from the rule book, subtotal and total
rows that add up, yuan with two decimals from exact fen, and the same bytes from the same data."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ruyi.export import (
    CATEGORY_TIER,
    FULL_PRICE,
    ProgrammeDoc,
    ProgrammeRow,
    StatementDoc,
    programme_csv,
    statement_csv,
    tier_label,
    versions_in,
)
from ruyi.redact import CATEGORY_TIER_LABEL
from ruyi.rules import RuleBook
from ruyi.settlement import ConstructionLine, Month, Statement, settle, statement_hash
from tests.ruyi.test_settlement import CITY, JUNE, fact

CLOSED_AT = datetime(2026, 7, 3, 2, 30, tzinfo=UTC)


def _statement() -> Statement:
    a = fact(date(2026, 6, 1), elder="e1", meal_id="m-a")
    b = fact(date(2026, 6, 1), elder="e2", subsidy=500, tiers=("age80",), meal_id="m-b", flags=("card_revoked",))
    c = fact(date(2026, 6, 2), elder="e3", subsidy=1000, tiers=("tekun",), meal_id="m-c")
    d = fact(date(2026, 6, 2), elder=None, subsidy=0, meal_id="m-d")
    return settle(
        canteen_id="c1",
        month=JUNE,
        facts=[a, b, c, d],
        rules=CITY,
        construction=[ConstructionLine("k1", 500000, "=厨房改造, 一期")],
    ).statement


def _doc(s: Statement | None = None, *, state: str = "closed", book: RuleBook = CITY) -> StatementDoc:
    return StatementDoc(
        s or _statement(), book, "ry-01", "如意食堂一号店", state, closed_at=CLOSED_AT if state == "closed" else None
    )


def _table(data: bytes) -> tuple[list[list[str]], list[dict[str, str]]]:
    """The title block rows, and the table's rows by English key (the block ends at the first empty line)."""
    text = data.decode("utf-8-sig")
    block_text, table_text = text.split("\r\n\r\n", 1)
    block = list(csv.reader(io.StringIO(block_text)))
    rows = list(csv.reader(io.StringIO(table_text)))
    return block, [dict(zip(rows[1], r, strict=True)) for r in rows[2:]]


def test_statement_csv_golden() -> None:
    s = _statement()
    data = statement_csv(_doc(s))
    assert data == statement_csv(_doc(_statement()))  # same data, same bytes
    assert data.startswith("\ufeff文件,如意食堂老年助餐补贴 结算单,document,settlement statement\r\n".encode())
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    digest = statement_hash(s)
    block = text.split("\r\n\r\n")[0].split("\r\n")
    assert block == [
        "文件,如意食堂老年助餐补贴 结算单,document,settlement statement",
        "补贴项目,如意食堂老年助餐补贴,programme,ruyi-city",
        "食堂编号,ry-01,canteen_code,ry-01",
        "食堂名称,如意食堂一号店,canteen_name,如意食堂一号店",
        "月份,2026年06月,month,2026-06",
        "状态,已关闭,state,closed",
        "规则版本,2026.1（2026-01-01 至 2026-06-30）,rule_versions,2026.1",
        "关账时间,2026-07-03 10:30（Asia/Shanghai）,closed_at,2026-07-03T02:30:00Z",
        "金额单位,元，两位小数（由整数分写出，精确）,amounts,yuan",
        f"内容哈希,{digest},statement_hash,{digest}",
    ]
    lines = text.split("\r\n\r\n")[1].split("\r\n")
    assert lines[0].startswith("类别,日期,餐次,补贴档次,档次代码,规则版本")
    assert lines[1].startswith("section,day,slot,tier,tier_code,rule_version,origin_month,item,meals,elders,price_yuan")
    assert lines[2] == "就餐补贴,2026-06-01,午餐,60–69周岁,age60,2026.1,,,1,1,12.00,2.00,10.00,,,,,2.00,,,line"
    assert lines[3] == "就餐补贴,2026-06-02,午餐,原价（无补贴）,,2026.1,,,1,0,12.00,0.00,12.00,,,,,0.00,,,line"
    assert lines[4] == "就餐补贴,2026-06-02,午餐,特困（五保）,tekun,2026.1,,,1,1,12.00,10.00,2.00,,,,,10.00,,,line"
    assert lines[5] == "就餐补贴小计,,,,,,,,3,,36.00,12.00,24.00,,,,,12.00,,,subtotal"
    assert '建设补贴,,,,,,,"k1 =厨房改造, 一期",,,,,,,,5000.00,,5000.00,,,construction' in lines
    assert "暂缓/不予支付,2026-06-01,午餐,,,,2026-06,待审核：就餐前此卡已挂失或解绑,1,,,,,,,,,,5.00,m-b,held" in lines
    assert lines[-3].startswith("合计,,,,,,,ry-01 如意食堂一号店 2026-06")
    assert lines[-2] == f"内容哈希,,,,,,,{digest},,,,,,,,,,,,,hash"


def test_statement_csv_rows_add_up_to_the_totals() -> None:
    s = _statement()
    _block, rows = _table(statement_csv(_doc(s)))

    def fen(text: str) -> int:
        return int(Decimal(text) * 100) if text else 0

    def col(kind: str, key: str) -> int:
        return sum(fen(r[key]) for r in rows if r["row"] == kind)

    subtotals = {r["section"]: r for r in rows if r["row"] == "subtotal"}
    total = next(r for r in rows if r["row"] == "total")
    t = s.totals
    assert (
        col("line", "price_yuan") == fen(subtotals["就餐补贴小计"]["price_yuan"]) == t.price == fen(total["price_yuan"])
    )
    assert col("line", "elder_subsidy_yuan") == fen(subtotals["就餐补贴小计"]["elder_subsidy_yuan"]) == t.elder_subsidy
    assert col("line", "elder_pays_yuan") == t.elder_pays
    assert (
        sum(int(r["meals"]) for r in rows if r["row"] == "line") == int(subtotals["就餐补贴小计"]["meals"]) == t.meals
    )
    assert col("operating", "operating_yuan") == fen(subtotals["运营补贴小计"]["operating_yuan"]) == t.operating
    assert col("construction", "construction_yuan") == t.construction == 500000
    # Every row but the subtotals, the total and the hash adds up to what is payable.
    assert sum(fen(r["payable_yuan"]) for r in rows if r["row"] not in {"subtotal", "total", "hash"}) == t.payable
    assert fen(total["payable_yuan"]) == t.payable
    assert {r["tier"] for r in rows if r["row"] == "line"} == {"60–69周岁", FULL_PRICE, "特困（五保）"}


def test_open_and_masked_statements_say_so() -> None:
    s = _statement()
    draft, _ = _table(statement_csv(_doc(s, state="draft")))
    assert ["状态", "草稿", "state", "draft"] in draft
    assert not any(r[0] == "关账时间" for r in draft)
    masked = dataclasses.replace(
        s, lines=tuple(dataclasses.replace(x, tier=CATEGORY_TIER) if x.tier == "tekun" else x for x in s.lines)
    )
    doc = dataclasses.replace(_doc(masked, state="reviewed"), masked=True)
    block, rows = _table(statement_csv(doc))
    assert ["状态", "已审核", "state", "reviewed"] in block
    assert ["内容哈希（本视图）", statement_hash(masked), "statement_hash", statement_hash(masked)] in block
    assert CATEGORY_TIER_LABEL in {r["tier"] for r in rows}
    assert "特困" not in statement_csv(doc).decode("utf-8-sig")


def _two_versions() -> RuleBook:
    """The city's book with its July version moved to 15 June and its age60 tier relabelled."""
    v1, v2 = CITY.versions
    tiers = tuple(t.model_copy(update={"label": "60岁以上（新）"}) if t.id == "age60" else t for t in v2.tiers)
    v2 = v2.model_copy(update={"effective_from": date(2026, 6, 15), "tiers": tiers})
    return CITY.model_copy(update={"versions": (v1, v2)})


def test_tier_labels_and_rule_versions_follow_the_rule_book() -> None:
    book = _two_versions()
    assert [v.id for v in versions_in(CITY, JUNE)] == ["2026.1"]
    assert [v.id for v in versions_in(CITY, Month(2026, 7))] == ["2026.7"]
    assert [v.id for v in versions_in(book, JUNE)] == ["2026.1", "2026.7"]
    assert tier_label(book, date(2026, 6, 14), "age60") == "60–69周岁"
    assert tier_label(book, date(2026, 6, 15), "age60") == "60岁以上（新）"
    assert tier_label(book, date(2026, 6, 1), "age60+tekun") == "60–69周岁＋特困（五保）"
    assert tier_label(book, date(2026, 6, 1), "") == FULL_PRICE
    assert tier_label(book, date(2026, 6, 1), CATEGORY_TIER) == CATEGORY_TIER_LABEL
    assert tier_label(book, date(2025, 1, 1), "age70") == "70–79周岁"  # before any version: the latest's label
    later = dataclasses.replace(fact(date(2026, 6, 20), elder="e9", meal_id="m-late"), rule_version="2026.7")
    s = settle(canteen_id="c1", month=JUNE, facts=[later], rules=book).statement
    block, rows = _table(statement_csv(_doc(s, book=book)))
    assert block[6] == [
        "规则版本",
        "2026.1（2026-01-01 至 2026-06-14）；2026.7（2026-06-15 起）",
        "rule_versions",
        "2026.1;2026.7",
    ]
    assert (rows[0]["tier"], rows[0]["rule_version"]) == ("60岁以上（新）", "2026.7")


def _programme() -> tuple[ProgrammeDoc, Statement]:
    s1 = settle(canteen_id="c1", month=JUNE, facts=[fact(date(2026, 6, 1))], rules=CITY).statement
    s2 = settle(canteen_id="c2", month=JUNE, facts=[fact(date(2026, 6, 2), canteen="c2")], rules=CITY).statement
    rows = (
        ProgrammeRow("c2", JUNE, "draft", s2.totals, None, canteen_code="ry-02", canteen_name="二号店",
                     programme="ruyi-city"),
        ProgrammeRow("c1", JUNE, "closed", s1.totals, statement_hash(s1), canteen_code="ry-01", canteen_name="一号店",
                     programme="ruyi-city"),
    )  # fmt: skip
    return ProgrammeDoc(JUNE, rows, {"ruyi-city": CITY}, "ab" * 32), s1


def test_programme_csv_names_every_canteen() -> None:
    doc, s1 = _programme()
    data = programme_csv(doc)
    assert data == programme_csv(ProgrammeDoc(JUNE, tuple(reversed(doc.rows)), doc.books, doc.content_hash))
    block, rows = _table(data)
    assert block == [
        ["文件", "助餐补贴月度汇总（各食堂）", "document", "programme month"],
        ["补贴项目", "如意食堂老年助餐补贴", "programme", "ruyi-city"],
        ["月份", "2026年06月", "month", "2026-06"],
        ["规则版本", "如意食堂老年助餐补贴：2026.1（2026-01-01 至 2026-06-30）", "rule_versions", "ruyi-city:2026.1"],
        ["食堂数", "2", "canteens", "2"],
        ["状态", "草稿 1，已关闭 1", "states", "draft:1;closed:1"],
        ["金额单位", "元，两位小数（由整数分写出，精确）", "amounts", "yuan"],
        ["内容哈希（JSON导出）", "ab" * 32, "content_hash", "ab" * 32],
    ]
    lines = data.decode("utf-8-sig").split("\r\n\r\n")[1].split("\r\n")
    assert lines[0].startswith("补贴项目,食堂编号,食堂名称,月份,状态,状态代码,餐数")
    figures = "1,1,1,1,12.00,2.00,10.00,2.00,2.00,0.00,0.00,4.00,0,0.00"
    assert (
        lines[2] == f"如意食堂老年助餐补贴,ry-01,一号店,2026-06,已关闭,closed,{figures},{statement_hash(s1)},c1,canteen"
    )
    assert lines[3] == f"如意食堂老年助餐补贴,ry-02,二号店,2026-06,草稿,draft,{figures},,c2,canteen"  # open: no hash
    assert lines[4] == ",合计,2 个食堂,2026-06,,,2,2,,2,24.00,4.00,20.00,4.00,4.00,0.00,0.00,8.00,0,0.00,,,total"
    assert [r["canteen_code"] for r in rows] == ["ry-01", "ry-02", "合计"]


def test_programme_covers_one_month_and_one_row_per_canteen() -> None:
    doc, _ = _programme()
    may = settle(canteen_id="c3", month=Month(2026, 5), facts=[], rules=CITY).statement
    other = ProgrammeRow("c3", may.month, "none", may.totals, None, canteen_code="c3", canteen_name="三", programme="x")
    with pytest.raises(ValueError, match="one month"):
        ProgrammeDoc(JUNE, (*doc.rows, other), doc.books, doc.content_hash)
    with pytest.raises(ValueError, match="one row per canteen"):
        ProgrammeDoc(JUNE, (*doc.rows, doc.rows[0]), doc.books, doc.content_hash)
