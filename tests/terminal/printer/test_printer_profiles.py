"""Printers as they are: one that never answers status queries, one whose font wants 元 for the yuan sign, one
that must leave Chinese mode before a QR code, one without the QR command, one near the end of its roll. Each is
the loopback printer answering (or not) as such a printer does, and the bytes it took decoded."""

from __future__ import annotations

import pytest
import qrcode

from terminal.devices.escpos_printer import PrinterConfig
from terminal.devices.escpos_text import FS_CHINESE_OFF, display_width
from terminal.devices.printing import Align, PaperWidth, PrinterError, PrinterErrorCode, QrCode, ReceiptDocument
from terminal.virtual.escpos_decode import RasterImage, decode
from terminal.virtual.printer import LoopbackPrinter, PrinterState
from tests.terminal.printer.test_printer import AMOUNTS, MEAL_ID, meal_receipt, tcp_printer

QR_COMMAND = b"\x1d(k"  # GS ( k: the 2D code function group (ESC/POS)


@pytest.fixture
def no_status() -> LoopbackPrinter:
    return LoopbackPrinter(answers_status=False)


def test_a_printer_without_status_prints_then_is_asked_once(no_status: LoopbackPrinter) -> None:
    with no_status:
        printer = tcp_printer(no_status, status="none", status_check_s=0.2)
        printer.print_document(meal_receipt())
        [job] = no_status.wait_for_jobs(1)
        receipt = decode(job.payload)
        assert receipt.unknown == [] and receipt.qr_codes[0].data == MEAL_ID
        # The receipt went first; one status query followed it and nobody waited on an answer past the check.
        assert job.status_queries == [1]
        assert job.query_spans[0][0] == len(job.payload)
        status = printer.status()  # nothing to ask: no connection is made
        assert (status.ready, status.queried) == (True, False)
        assert len(no_status.jobs) == 1


def test_the_same_printer_cannot_print_when_status_is_required(no_status: LoopbackPrinter) -> None:
    with no_status:
        printer = tcp_printer(no_status, timeout_s=0.5)
        with pytest.raises(PrinterError) as raised:
            printer.print_document(meal_receipt())
        assert raised.value.code is PrinterErrorCode.TIMEOUT
        [job] = no_status.wait_for_jobs(1)
        assert job.payload == b""


def test_without_status_a_fault_answered_after_printing_is_reported(loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.PAPER_OUT  # it does answer this once: the receipt may be lost
    printer = tcp_printer(loopback, status="none", status_check_s=0.5)
    with pytest.raises(PrinterError) as raised:
        printer.print_document(meal_receipt())
    assert raised.value.code is PrinterErrorCode.PAPER_OUT
    [job] = loopback.wait_for_jobs(1)
    assert decode(job.payload).qr_codes[0].data == MEAL_ID


def test_a_printer_without_status_that_is_off_fails_at_once() -> None:
    with LoopbackPrinter(PrinterState.REFUSING, answers_status=False) as off, pytest.raises(PrinterError) as raised:
        tcp_printer(off, status="none").print_document(meal_receipt())
    assert raised.value.code is PrinterErrorCode.OFFLINE


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_yuan_sign_as_yuan_after_the_amount(loopback: LoopbackPrinter, paper: PaperWidth) -> None:
    printer = tcp_printer(loopback, paper, yuan_sign="yuan")
    printer.print_document(meal_receipt())
    receipt = decode(loopback.wait_for_jobs(1)[0].payload)
    assert receipt.unknown == [] and receipt.images == []
    for label, amount in AMOUNTS:
        line = receipt.line(label)
        assert line.text.endswith(amount.replace("¥", "") + "元"), line.text
        assert "￥" not in line.text and "¥" not in line.text
        assert display_width(line.text) == paper.columns


def test_leave_chinese_mode_before_the_qr_code(loopback: LoopbackPrinter) -> None:
    tcp_printer(loopback, qr_leave_chinese_mode=True).print_document(meal_receipt())
    payload = loopback.wait_for_jobs(1)[0].payload
    first_qr = payload.index(QR_COMMAND)
    assert payload.rindex(FS_CHINESE_OFF, 0, first_qr) > payload.rfind(b"\n", 0, first_qr)  # right before the QR
    assert decode(payload).qr_codes[0].data == MEAL_ID


def _modules(image: RasterImage) -> list[list[bool]]:
    """The dots inside the bounding box of a printed picture's black (True = black)."""
    picture = image.to_pil().convert("L")
    box = picture.point(lambda v: 255 - v).getbbox()
    assert box is not None, "a blank picture"
    left, top, right, bottom = box
    return [[picture.getpixel((x, y)) == 0 for x in range(left, right)] for y in range(top, bottom)]


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
def test_raster_qr_for_a_printer_without_the_qr_command(loopback: LoopbackPrinter, paper: PaperWidth) -> None:
    printer = tcp_printer(loopback, paper, qr="raster", qr_module_size=4)
    printer.print_document(ReceiptDocument((QrCode(MEAL_ID, align=Align.CENTER),)))
    payload = loopback.wait_for_jobs(1)[0].payload
    receipt = decode(payload, knows_qr=False)
    assert QR_COMMAND not in payload and receipt.unknown == [] and receipt.qr_codes == []
    [image] = receipt.images
    assert image.width == paper.dots
    # The picture is the QR code of the meal id at level M, 4 dots a module, centred on the paper.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(MEAL_ID.encode("utf-8"))
    code.make(fit=True)
    matrix = code.get_matrix()
    dots = _modules(image)
    assert len(dots) == len(matrix) * 4 and len(dots[0]) == len(matrix) * 4
    assert [[row[4 * x + 2] for x in range(len(matrix))] for row in dots[2::4]] == matrix
    picture = image.to_pil().convert("L")
    box = picture.point(lambda v: 255 - v).getbbox()
    assert box is not None and abs(box[0] - (paper.dots - box[2])) <= 1


def test_near_end_is_reported_while_printing_goes_on(loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.PAPER_NEAR_END
    printer = tcp_printer(loopback)
    printer.print_document(meal_receipt())
    assert decode(loopback.wait_for_jobs(1)[0].payload).qr_codes[0].data == MEAL_ID
    status = printer.status()
    assert (status.ready, status.paper_near_end) == (True, True)


def test_profile_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="status"):
        PrinterConfig.model_validate({"connection": {"kind": "tcp", "host": "h"}, "status": "sometimes"})
    with pytest.raises(ValueError, match="qr"):
        PrinterConfig.model_validate({"connection": {"kind": "tcp", "host": "h"}, "qr": "laser"})
