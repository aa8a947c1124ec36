"""Column widths, fitting and encoding of receipt text; status bytes; the decoder itself."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.devices.escpos_printer import decode_status
from terminal.devices.escpos_text import (
    chinese_mode_bytes,
    display_width,
    fits_printer_font,
    in_printer_font,
    normalize,
    pad,
    shorten,
    two_columns,
    wrap,
)
from terminal.devices.printing import Align, PrinterErrorCode
from terminal.virtual.escpos_decode import decode

# Receipt-like text: ASCII, common hanzi, full-width punctuation, the odd rare or extension-B character.
receipt_chars = st.sampled_from(list("0123456789 abcXYZ*-.:张王李明华食堂红烧肉米饭补贴实付（）：，·—喆堃𠮷¥"))
receipt_text = st.text(receipt_chars, min_size=0, max_size=60)
columns = st.sampled_from([16, 24, 32, 48])


def test_widths_count_printer_columns() -> None:
    assert display_width("abc") == 3
    assert display_width("张*明") == 5
    assert display_width("·—é") == 6  # "ambiguous" in Unicode, full-width in a GB font
    assert display_width("¥12.00") == 7  # printed as the full-width ￥
    assert display_width("𠮷") == 2


def test_gb2312_is_the_gb2312_area_of_gbk() -> None:
    assert all(in_printer_font(ch, "gb2312") for ch in "如意食堂·—…×°é￥（）")
    assert not in_printer_font("喆", "gb2312")
    assert in_printer_font("喆", "gbk")
    assert not in_printer_font("𠮷", "gbk")
    assert in_printer_font("𠮷", "gb18030")
    assert not fits_printer_font("王*喆", "gb2312")
    assert fits_printer_font("¥4.00", "gb2312")


def test_chinese_text_goes_inside_fs_and_fs_dot() -> None:
    assert chinese_mode_bytes("ABC 12") == b"ABC 12"
    assert chinese_mode_bytes("实付¥4") == b"\x1c&" + "实付￥4".encode("gb18030") + b"\x1c."
    assert "实付￥4".encode("gb18030") == b"\xca\xb5\xb8\xb6\xa3\xa44"


@given(receipt_text, columns)
def test_wrapping_keeps_every_character_and_the_width(text: str, width: int) -> None:
    pieces = wrap(text, width)
    assert "".join(pieces) == normalize(text)
    assert all(display_width(piece) <= width for piece in pieces)
    assert all(display_width(piece) > width - 2 for piece in pieces[:-1])


@given(receipt_text, st.sampled_from(["¥12.00", "-¥8.00", "0.00", "¥1,234.50"]), columns)
def test_two_columns_fill_the_last_line_exactly(label: str, amount: str, width: int) -> None:
    lines = two_columns(label, amount, width)
    assert display_width(lines[-1]) == width
    assert lines[-1].endswith(normalize(amount))
    assert all(display_width(line) <= width for line in lines)
    head = "".join(lines)[: -len(normalize(amount))]
    assert head.rstrip() == normalize(label).rstrip()
    if display_width(label) + 1 + display_width(amount) <= width:
        assert len(lines) == 1


@given(receipt_text, receipt_text, columns)
def test_two_columns_never_overflow_whatever_the_amount(label: str, amount: str, width: int) -> None:
    lines = two_columns(label, amount, width)
    assert all(display_width(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == (normalize(label) + normalize(amount)).replace(" ", "")
    assert display_width(lines[-1]) == width  # the amount (its last piece) right-aligned on the last line


def test_an_amount_wider_than_the_paper_wraps() -> None:
    number = "RY01-2-000042-" + "9" * 30
    lines = two_columns("小票号", number, 32)
    assert lines[0] == "小票号" and "".join(line.strip() for line in lines[1:]) == number
    assert all(display_width(line) <= 32 for line in lines)


@given(receipt_text, st.integers(min_value=3, max_value=48))
def test_shorten_keeps_within_the_columns(text: str, width: int) -> None:
    short = shorten(text, width)
    assert display_width(short) <= width
    if display_width(text) <= width:
        assert short == normalize(text)
    else:
        assert short.endswith("…") and normalize(text).startswith(short[:-1])


@given(receipt_text, columns, st.sampled_from(list(Align)))
def test_padding_is_exact(text: str, width: int, align: Align) -> None:
    if display_width(text) > width:
        with pytest.raises(ValueError):
            pad(text, width, align)
    else:
        assert display_width(pad(text, width, align)) == width


@pytest.mark.parametrize(
    ("answers", "problem", "near_end"),
    [
        ((0x12, 0x12, 0x12), None, False),
        ((0x12, 0x12, 0x1E), None, True),
        ((0x1A, 0x12, 0x12), PrinterErrorCode.OFFLINE, False),
        ((0x1A, 0x16, 0x12), PrinterErrorCode.COVER_OPEN, False),
        ((0x1A, 0x32, 0x72), PrinterErrorCode.PAPER_OUT, False),
        ((0x12, 0x12, 0x72), PrinterErrorCode.PAPER_OUT, False),
        ((0x1A, 0x52, 0x12), PrinterErrorCode.PRINTER_ERROR, False),
        ((0x3F, 0x12, 0x12), PrinterErrorCode.PRINTER_ERROR, False),
        ((0x12, 0x12, 0x00), PrinterErrorCode.PRINTER_ERROR, False),
    ],
)
def test_status_bytes(answers: tuple[int, int, int], problem: PrinterErrorCode | None, near_end: bool) -> None:
    status = decode_status(*answers)
    assert (status.problem, status.paper_near_end) == (problem, near_end)


def test_decoder_reports_what_it_does_not_know() -> None:
    receipt = decode(b"\x1b@\x1bp\x00\x19\xfaAB\n\xca\xb5\n\x1d(L\x02\x000p")
    assert [u.data for u in receipt.unknown] == [
        b"\x1bp",
        b"\x00",
        b"\x19",
        b"\xfa",
        b"\xca",
        b"\xb5",
        b"\x1d(L\x02\x000p",
    ]
    assert not receipt.lines[-1].chinese_mode


def test_decoder_reads_gb18030_across_ascii_range_trail_bytes() -> None:
    # 镕 is E9 46 (the trail byte is an ASCII "F"); 𠮷 is four bytes, two of them ASCII digits.
    data = b"\x1b@\x1ba\x02\x1c&" + "镕𠮷 A1".encode("gb18030") + b"\x1c.\n"
    receipt = decode(data)
    assert receipt.unknown == []
    assert receipt.texts == ["镕𠮷 A1"]
    assert receipt.lines[0].align == "right"
