"""The printable PDF statement, read back with pypdf: the same data gives the same bytes (the creation date comes
from the statement), every page carries 第 N 页 / 共 M 页 and the content hash, the Chinese text (title block,
state, tier labels, held meals, signature lines) is there as text, and the font is embedded."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from ruyi.export import StatementDoc
from ruyi.settlement import ConstructionLine, CorrectionLine, Month, settle
from server.settlements import pdf
from server.settlements.pdf import FontMissing, statement_pdf
from tests.ruyi.test_settlement import CITY, JUNE, fact

CLOSED_AT = datetime(2026, 7, 3, 2, 30, tzinfo=UTC)


def _doc(state: str = "closed") -> StatementDoc:
    """A busy June: 30 days of lunches and dinners in several tiers (several pages), some held meals, a
    construction line and a correction."""
    rnd = random.Random(7)
    facts = []
    for day in range(1, 31):
        for i in range(12):
            tiers = rnd.choice([("age60",), ("age70",), ("tekun",), ("care",), ()])
            held = ("card_revoked",) if i == 3 and day % 10 == 0 else ()
            facts.append(
                fact(date(2026, 6, day), elder=f"e{i}", slot=rnd.choice(["lunch", "dinner"]), tiers=tiers,
                     subsidy=300 if tiers else 0, minute=i, flags=held, meal_id=f"m{day:02d}{i:02d}")
            )  # fmt: skip
    s = settle(
        canteen_id="c1",
        month=JUNE,
        facts=facts,
        rules=CITY,
        construction=[ConstructionLine("K001", 500000, "助餐点改造一期")],
        corrections=[CorrectionLine("C001", Month(2026, 5), -1200, "5月重复计费冲回")],
    ).statement
    closed_at = CLOSED_AT if state == "closed" else None
    return StatementDoc(s, CITY, "ry-01", "如意食堂一号店", state, closed_at=closed_at)


def _pages(data: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def _fonts(data: bytes) -> list[dict[str, Any]]:
    """The descriptor of every font the pages use."""
    out = []
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for ref in cast(DictionaryObject, resources["/Font"].get_object()).values():
            font = cast(DictionaryObject, ref.get_object())
            for descendant in cast(list[Any], font.get("/DescendantFonts", [font])):
                out.append(dict(descendant.get_object()["/FontDescriptor"].get_object()))
    return out


def test_pdf_statement_is_reproducible_and_fit_to_sign() -> None:
    doc = _doc()
    data = statement_pdf(doc)
    assert data.startswith(b"%PDF-") and data == statement_pdf(_doc())
    pages = _pages(data)
    n = len(pages)
    assert n >= 3
    for i, text in enumerate(pages, 1):
        assert f"第 {i} 页 / 共 {n} 页" in text, i
        assert f"内容哈希 {doc.hash}" in text, i
        assert "ry-01 如意食堂一号店" in text and "已关闭" in text, i
    first, everything = pages[0], "\n".join(pages)
    for expected in ("如意食堂老年助餐补贴 结算单", "2026年06月", "2026.1（2026-01-01 至 2026-06-30）", "一、汇总"):
        assert expected in first, expected
    for expected in ("60–69周岁", "特困（五保）", "原价（无补贴）", "待审核：就餐前此卡已挂失或解绑", "助餐点改造一期",
                     "5月重复计费冲回", "人工调整", "制表人", "审核人", "批准人", "日期", "合计"):  # fmt: skip
        assert expected in everything, expected
    assert "tekun" not in everything  # labels, not codes
    assert f"{doc.statement.totals.payable // 100}.{doc.statement.totals.payable % 100:02d}" in first
    meta = PdfReader(io.BytesIO(data)).metadata
    assert meta is not None and meta.creation_date == CLOSED_AT and str(meta["/Keywords"]) == doc.hash


def test_pdf_embeds_the_chinese_font() -> None:
    fonts = _fonts(statement_pdf(_doc()))
    assert fonts
    for descriptor in fonts:
        assert "/FontFile2" in descriptor
        assert str(descriptor["/FontName"]).endswith("WenQuanYiZenHei")


def test_open_statement_pdf_dated_by_its_month() -> None:
    data = statement_pdf(_doc("draft"))
    meta = PdfReader(io.BytesIO(data)).metadata
    assert meta is not None and meta.creation_date == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)  # 1 July, Shanghai
    assert "草稿" in _pages(data)[0] and "关账时间" not in _pages(data)[0]


def test_pdf_without_the_font_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pdf, "FONT_FILE", tmp_path / "missing.ttc")
    with pytest.raises(FontMissing, match="fonts-wqy-zenhei"):
        statement_pdf(_doc())
