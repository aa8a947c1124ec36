"""Receipt printer: documents go out in Chinese mode (or as pictures) to a loopback printer, which the decoder
reads back; printer faults come back as PrinterError codes within the timeout."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from escpos.image import EscposImage

from terminal.devices.escpos_printer import EscposPrinter, FileConnection, PrinterConfig, TcpConnection
from terminal.devices.escpos_text import display_width, render_line
from terminal.devices.printing import (
    Align,
    Cut,
    Feed,
    PaperWidth,
    PrinterError,
    PrinterErrorCode,
    QrCode,
    ReceiptDocument,
    ReceiptPrinter,
    Separator,
    TextLine,
    TwoColumnLine,
)
from terminal.virtual.escpos_decode import Cut as DecodedCut
from terminal.virtual.escpos_decode import Line, Receipt, decode
from terminal.virtual.escpos_decode import QrCode as DecodedQr
from terminal.virtual.printer import LoopbackPrinter, PrinterState

MEAL_ID = str(uuid.UUID("0190f3a2-7c41-7d3e-9a55-3c2b1e0d4f66"))
AMOUNTS = [("红烧肉套餐", "¥12.00"), ("政府补贴", "-¥8.00"), ("实付（现金）", "¥4.00")]


def tcp_printer(
    loopback: LoopbackPrinter, paper: PaperWidth = PaperWidth.MM80, timeout_s: float = 2.0, **settings: object
) -> EscposPrinter:
    config = PrinterConfig.model_validate(
        {
            "connection": TcpConnection(host=loopback.host, port=loopback.port),
            "paper": paper,
            "timeout_s": timeout_s,
            **settings,
        }
    )
    return EscposPrinter(config)


def file_printer(path: Path, paper: PaperWidth = PaperWidth.MM80) -> EscposPrinter:
    return EscposPrinter(PrinterConfig(connection=FileConnection(path=path), paper=paper))


def meal_receipt(name: str = "张*明") -> ReceiptDocument:
    return ReceiptDocument(
        (
            TextLine("如意食堂", align=Align.CENTER, bold=True, double=True),
            TextLine("东城社区店", align=Align.CENTER),
            TextLine("2024-07-01 11:32", align=Align.CENTER),
            TextLine("收据号 T03-000123", align=Align.CENTER),
            TextLine(f"姓名：{name}"),
            Separator(),
            *(TwoColumnLine(label, amount) for label, amount in AMOUNTS),
            Separator("="),
            QrCode(MEAL_ID),
            TextLine("谢谢惠顾", align=Align.CENTER),
            Feed(2),
            Cut(),
        )
    )


def print_and_decode(printer: ReceiptPrinter, loopback: LoopbackPrinter, doc: ReceiptDocument) -> Receipt:
    before = sum(job.closed for job in loopback.jobs)
    printer.print_document(doc)
    job = loopback.wait_for_jobs(before + 1)[-1]
    assert job.status_queries == [1, 2, 4]
    return decode(job.payload)


def raster_of(image_text: str, columns: int, **kwargs: object) -> bytes:
    picture = render_line(image_text, columns=columns, **kwargs)  # type: ignore[arg-type]
    return bytes(EscposImage(picture).to_raster_format())


# --- what the receipt says -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_receipt_says_the_right_thing_in_chinese(loopback: LoopbackPrinter, paper: PaperWidth) -> None:
    receipt = print_and_decode(tcp_printer(loopback, paper), loopback, meal_receipt())

    assert receipt.unknown == []
    assert receipt.images == []
    assert receipt.initialized == 1
    title = receipt.line("如意食堂")
    assert title.text == "如意食堂"
    assert receipt.line("东城社区店").align == "center"
    assert (title.align, title.bold, title.width, title.height) == ("center", True, 2, 2)
    assert receipt.line("收据号 T03-000123").align == "center"
    name = receipt.line("姓名：张*明")
    assert (name.align, name.bold, name.width) == ("left", False, 1)
    assert all(line.chinese_mode for line in receipt.lines)

    for label, amount in AMOUNTS:
        line = receipt.line(label)
        assert display_width(line.text) == paper.columns, line.text
        assert line.text.startswith(label)
        # The yen sign is printed as GB2312's full-width one: U+00A5 is not in the printer's font.
        assert line.text.endswith(amount.replace("¥", "￥"))
        assert line.width == 1
    assert receipt.line("-----").text == "-" * paper.columns
    assert receipt.line("=====").text == "=" * paper.columns

    assert receipt.qr_codes == [DecodedQr(MEAL_ID, "center", 6, "M")]
    assert receipt.cuts == [DecodedCut(partial=False)]
    kinds = [type(element).__name__ for element in receipt.elements]
    assert kinds[-3:] == ["QrCode", "Line", "Cut"]
    assert receipt.texts[-1] == "谢谢惠顾"


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_long_lines_wrap_within_the_paper(loopback: LoopbackPrinter, paper: PaperWidth) -> None:
    text, label, big = "番茄炒蛋配米饭" * 6, "宫保鸡丁盖浇饭加例汤" * 3, "大字" * 20
    doc = ReceiptDocument((TextLine(text), TwoColumnLine(label, "¥15.50"), TextLine(big, double=True)))
    receipt = print_and_decode(tcp_printer(loopback, paper), loopback, doc)

    assert receipt.unknown == []
    for line in receipt.lines:
        assert display_width(line.text) * line.width <= paper.columns, line.text
    normal = [line.text for line in receipt.lines if line.width == 1]
    assert display_width(normal[-1]) == paper.columns
    assert normal[-1].endswith(" ￥15.50")
    printed = "".join(normal)
    assert printed.startswith(text)
    assert printed.removeprefix(text).removesuffix("￥15.50").rstrip() == label
    assert "".join(line.text for line in receipt.lines if line.width == 2) == big


def test_void_and_reprint_lines_are_plain_text_lines(loopback: LoopbackPrinter) -> None:
    doc = ReceiptDocument((TextLine("【补打】原收据号 T03-000123", align=Align.RIGHT, bold=True), Cut(partial=True)))
    receipt = print_and_decode(tcp_printer(loopback), loopback, doc)

    assert receipt.lines == [Line("【补打】原收据号 T03-000123", "right", True, 1, 1, True)]
    assert receipt.cuts == [DecodedCut(partial=True)]


# --- characters the printer's font lacks ---------------------------------------------------------------------------


def test_a_line_with_a_character_outside_gb2312_is_a_picture(loopback: LoopbackPrinter) -> None:
    # 喆 is in GBK but not in GB2312; 𠮷 is in neither (CJK extension B).
    doc = ReceiptDocument(
        (TextLine("如意食堂", align=Align.CENTER), TextLine("姓名：王*喆"), TextLine("姓名：𠮷*明"), Cut())
    )
    receipt = print_and_decode(tcp_printer(loopback), loopback, doc)

    assert receipt.unknown == []
    assert receipt.texts == ["如意食堂"]
    assert len(receipt.images) == 2
    for image, text in zip(receipt.images, ["姓名：王*喆", "姓名：𠮷*明"], strict=True):
        assert (image.width, image.height) == (576, 30)
        assert image.data == raster_of(text, 48)
        assert image.black_dots > 100
    assert [type(e).__name__ for e in receipt.elements] == ["Line", "RasterImage", "RasterImage", "Cut"]


def test_a_printer_with_a_gbk_font_prints_gbk_characters_as_text(loopback: LoopbackPrinter) -> None:
    doc = ReceiptDocument((TextLine("姓名：王*喆"), TextLine("姓名：𠮷*明")))
    receipt = print_and_decode(tcp_printer(loopback, charset="gbk"), loopback, doc)

    assert receipt.texts == ["姓名：王*喆"]
    assert len(receipt.images) == 1


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_bitmap_mode_prints_every_line_as_a_picture(loopback: LoopbackPrinter, paper: PaperWidth) -> None:
    receipt = print_and_decode(tcp_printer(loopback, paper, text_mode="bitmap"), loopback, meal_receipt())

    assert receipt.unknown == []
    assert receipt.lines == []
    # title, canteen, date, number, name, separator, three amounts, separator, thanks
    assert len(receipt.images) == 11
    assert {image.width for image in receipt.images} == {paper.dots}
    assert receipt.images[0].height == 60  # double size
    assert receipt.images[0].data == raster_of("如意食堂", paper.columns, align=Align.CENTER, bold=True, scale=2)
    label, amount = AMOUNTS[0]
    two_columns = label + " " * (paper.columns - display_width(label + amount)) + amount
    assert receipt.images[6].data == raster_of(two_columns, paper.columns)
    assert receipt.qr_codes == [DecodedQr(MEAL_ID, "center", 6, "M")]
    assert receipt.cuts == [DecodedCut(partial=False)]


# --- faults ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (PrinterState.OFFLINE, PrinterErrorCode.OFFLINE),
        (PrinterState.PAPER_OUT, PrinterErrorCode.PAPER_OUT),
        (PrinterState.COVER_OPEN, PrinterErrorCode.COVER_OPEN),
        (PrinterState.ERROR, PrinterErrorCode.PRINTER_ERROR),
        (PrinterState.GARBAGE, PrinterErrorCode.PRINTER_ERROR),
    ],
)
def test_a_printer_that_cannot_print_says_why(
    loopback: LoopbackPrinter, state: PrinterState, code: PrinterErrorCode
) -> None:
    loopback.state = state
    printer = tcp_printer(loopback)

    with pytest.raises(PrinterError) as raised:
        printer.print_document(meal_receipt())

    assert raised.value.code == code
    assert raised.value.cashier_message
    [job] = loopback.wait_for_jobs(1)
    assert job.payload == b""  # asked, and sent nothing to be lost in the printer's buffer
    status = printer.status()
    assert (status.problem, status.ready) == (code, False)


def test_paper_near_end_still_prints_and_is_reported(loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.PAPER_NEAR_END
    printer = tcp_printer(loopback)

    receipt = print_and_decode(printer, loopback, meal_receipt())

    assert receipt.qr_codes[0].data == MEAL_ID
    status = printer.status()
    assert (status.ready, status.paper_near_end, status.queried) == (True, True, True)


def test_a_silent_printer_times_out(loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.SILENT
    printer = tcp_printer(loopback, timeout_s=0.5)

    started = time.monotonic()
    with pytest.raises(PrinterError) as raised:
        printer.print_document(meal_receipt())
    assert raised.value.code == PrinterErrorCode.TIMEOUT
    assert printer.status().problem == PrinterErrorCode.TIMEOUT
    assert time.monotonic() - started < 20  # it returns; no hang (not a speed test)
    assert [job.silent for job in loopback.jobs] == [True, True]


def test_a_refusing_printer_is_offline(loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.REFUSING
    printer = tcp_printer(loopback)

    with pytest.raises(PrinterError) as raised:
        printer.print_document(meal_receipt())
    assert raised.value.code == PrinterErrorCode.OFFLINE
    assert printer.status().problem == PrinterErrorCode.OFFLINE
    assert loopback.jobs == []


def test_the_receipt_prints_once_the_printer_is_back(loopback: LoopbackPrinter) -> None:
    printer = tcp_printer(loopback)
    for state in (PrinterState.REFUSING, PrinterState.PAPER_OUT, PrinterState.SILENT):
        loopback.state = state
        with pytest.raises(PrinterError):
            printer.print_document(meal_receipt())
    loopback.state = PrinterState.ONLINE

    receipt = print_and_decode(printer, loopback, meal_receipt())

    assert receipt.qr_codes[0].data == MEAL_ID
    assert printer.status().ready


def test_a_device_file_that_blocks_times_out_and_prints_nothing_late(tmp_path: Path) -> None:
    # Opening a FIFO for writing blocks until a reader comes, like a parallel port with the printer off.
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    printer = EscposPrinter(PrinterConfig(connection=FileConnection(path=fifo), timeout_s=0.3))

    with pytest.raises(PrinterError) as raised:
        printer.print_document(meal_receipt())
    assert raised.value.code == PrinterErrorCode.TIMEOUT

    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the printer comes back after the cashier moved on
    try:
        deadline = time.monotonic() + 10
        while any(t.name == "receipt-printer-io" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the abandoned job never finished"
            time.sleep(0.01)
        assert os.read(reader, 1 << 20) == b""  # the receipt waits in the reprint queue instead
    finally:
        os.close(reader)


# --- connections ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
@pytest.mark.parametrize("mode", ["chinese", "bitmap"])
def test_a_file_printer_gets_the_same_bytes_as_a_network_printer(
    loopback: LoopbackPrinter, tmp_path: Path, paper: PaperWidth, mode: str
) -> None:
    network = tcp_printer(loopback, paper, text_mode=mode)
    device = tmp_path / "lp0"
    file = EscposPrinter(PrinterConfig(connection=FileConnection(path=device), paper=paper, text_mode=mode))

    network.print_document(meal_receipt("吉*𠮷"))
    file.print_document(meal_receipt("吉*𠮷"))

    [job] = loopback.wait_for_jobs(1)
    assert device.read_bytes() == job.payload == network.render(meal_receipt("吉*𠮷"))
    assert file.status().queried is False


def test_printers_follow_the_protocol() -> None:
    printer: ReceiptPrinter = EscposPrinter(PrinterConfig(connection=TcpConnection(host="127.0.0.1", port=9)))
    assert callable(printer.print_document)


def test_configuration_reads_like_a_config_file() -> None:
    config = PrinterConfig.model_validate(
        {
            "connection": {"kind": "usb", "vendor_id": 0x0416, "product_id": 0x5011},
            "paper": 58,
            "text_mode": "bitmap",
            "timeout_s": 2.5,
        }
    )
    assert config.paper is PaperWidth.MM58
    assert (config.paper.columns, config.paper.dots) == (32, 384)
    assert config.connection.kind == "usb"
    with pytest.raises(ValueError):
        PrinterConfig.model_validate({"connection": {"kind": "tcp", "host": "p"}, "paper": 76})


def test_bad_documents_are_refused_before_printing() -> None:
    with pytest.raises(ValueError):
        TextLine("第一行\n第二行")
    with pytest.raises(ValueError):
        TextLine("\x1b@")
    with pytest.raises(ValueError):
        QrCode("")
    with pytest.raises(ValueError):
        Separator("--")
    # Too wide is not bad: an amount wider than the paper wraps (a recorded meal's receipt must always print).
    printer = file_printer(Path("/nonexistent/lp0"), PaperWidth.MM58)
    receipt = decode(printer.render(ReceiptDocument((TwoColumnLine("合计", "¥" + "9" * 40),))))
    assert receipt.texts[0] == "合计" and max(len(t.encode("gb18030")) for t in receipt.texts) <= 32


def test_a_missing_device_file_is_offline() -> None:
    with pytest.raises(PrinterError) as raised:
        file_printer(Path("/nonexistent/lp0")).print_document(meal_receipt())
    assert raised.value.code == PrinterErrorCode.OFFLINE


@pytest.mark.parametrize(("kind", "settings"), [("usb", {"vendor_id": 1, "product_id": 2}), ("serial", {})])
def test_usb_and_serial_printers_need_their_driver_library(kind: str, settings: dict[str, object]) -> None:
    module = "usb" if kind == "usb" else "serial"
    try:
        __import__(module)
    except ImportError:
        pass
    else:
        pytest.skip(f"{module} is installed here")
    connection = {"kind": kind, "device": "/dev/ttyS0", **settings} if kind == "serial" else {"kind": kind, **settings}
    printer = EscposPrinter(PrinterConfig.model_validate({"connection": connection}))
    with pytest.raises(PrinterError) as raised:
        printer.print_document(meal_receipt())
    assert raised.value.code == PrinterErrorCode.UNAVAILABLE
    assert printer.status().problem == PrinterErrorCode.UNAVAILABLE
