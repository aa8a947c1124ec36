"""What printers answer, and what the cheap Chinese-market ones need done differently: the status bits of
``DLE EOT``, the yuan sign, and a QR code drawn as a picture for printers without the QR command.

The printer's configuration (:class:`terminal.devices.escpos_printer.PrinterConfig`) picks each behaviour; the
README's "Printers" section says which setting fits which printer (Xprinter, Gprinter, HPRT and the like).
"""

from __future__ import annotations

import re
from typing import Literal

import qrcode
from PIL import Image

from terminal.devices.printing import Align, PrinterErrorCode, PrinterStatus

__all__ = ["QrMode", "StatusMode", "YuanSign", "decode_status", "money_text", "raster_qr"]

StatusMode = Literal["realtime", "none"]
"""``realtime``: ask ``DLE EOT 1/2/4`` before each receipt and print only into a ready printer. ``none``: the
printer does not answer status queries: print, then ask once and wait briefly; no answer counts as printed."""
YuanSign = Literal["fullwidth", "yuan"]
"""How an amount's ``¥`` prints: GB2312's full-width ``￥`` before it, or ``元`` after it (fonts that draw ``￥``
as a box or as a Japanese yen)."""
QrMode = Literal["native", "raster"]
"""``native``: the printer draws the QR code (``GS ( k``). ``raster``: the terminal draws it and sends a picture
(``GS v 0``), for printers without the QR command (they print nothing, or the command's bytes as text)."""


# --- status answers ------------------------------------------------------------------------------------------

# Bit layout of the real-time status answers, from Epson's ESC/POS Command Reference, "DLE EOT n: Transmit
# real-time status" (n=1 printer, n=2 offline cause, n=4 roll paper sensor): in every answer bits 1 and 4 are 1 and
# bits 0 and 7 are 0. n=1 bit 3: offline. n=2 bit 2: cover open, bit 5: printing stopped by paper end, bit 6: error.
# n=4 bits 2-3: roll paper near-end sensor (both set: near end), bits 5-6: roll paper end sensor (both set: no
# paper). python-escpos's constants (RT_MASK_LOWPAPER 0x1E, RT_MASK_NOPAPER 0x72) read the same bits.
_FIXED_MASK, _FIXED_BITS = 0x93, 0x12
_OFFLINE = 0x08  # n=1: printer status
_COVER_OPEN, _PAPER_END_STOP, _ERROR = 0x04, 0x20, 0x40  # n=2: offline cause
_NEAR_END, _ROLL_END = 0x0C, 0x60  # n=4: paper roll sensor


def decode_status(printer_status: int, offline_cause: int, paper_sensor: int) -> PrinterStatus:
    """Read the answers to ``DLE EOT 1``, ``DLE EOT 2`` and ``DLE EOT 4``."""
    for n, answer in ((1, printer_status), (2, offline_cause), (4, paper_sensor)):
        if answer & _FIXED_MASK != _FIXED_BITS:
            return PrinterStatus(
                PrinterErrorCode.PRINTER_ERROR, detail=f"answer 0x{answer:02X} to DLE EOT {n} is not ESC/POS"
            )
    near_end = bool(paper_sensor & _NEAR_END)
    problem: PrinterErrorCode | None = None
    if offline_cause & _COVER_OPEN:
        problem = PrinterErrorCode.COVER_OPEN
    elif offline_cause & _PAPER_END_STOP or paper_sensor & _ROLL_END:
        problem = PrinterErrorCode.PAPER_OUT
    elif offline_cause & _ERROR:
        problem = PrinterErrorCode.PRINTER_ERROR
    elif printer_status & _OFFLINE:
        problem = PrinterErrorCode.OFFLINE
    answers = f"{printer_status:02X} {offline_cause:02X} {paper_sensor:02X}"
    detail = "" if problem is None else f"DLE EOT 1/2/4 answered {answers}"
    return PrinterStatus(problem, paper_near_end=near_end, detail=detail)


# --- the yuan sign -------------------------------------------------------------------------------------------

_AMOUNT = re.compile(r"(-?)[¥￥](\d[\d,]*(?:\.\d+)?)")


def money_text(text: str, sign: YuanSign) -> str:
    """``text`` with each amount's sign as the printer should print it: ``-¥8.00`` stays (the full-width ``￥`` is
    :func:`terminal.devices.escpos_text.normalize`'s) or becomes ``-8.00元``; the width is the same either way."""
    if sign == "fullwidth":
        return text
    return _AMOUNT.sub(r"\1\2元", text)


# --- a QR code as a picture ----------------------------------------------------------------------------------


def raster_qr(data: str, *, module_size: int, paper_dots: int, align: Align) -> Image.Image:
    """The QR code of ``data`` (error correction M, as the native command prints it) as a black-on-white picture
    the paper's full width, ``module_size`` dots a module, with a 4-module quiet zone (ISO/IEC 18004) where the
    paper allows; alignment is drawn into the picture (some printers ignore ``ESC a`` for pictures)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=0)
    code.add_data(data.encode("utf-8"))
    code.make(fit=True)
    matrix = code.get_matrix()
    modules = len(matrix)
    size = min(module_size, paper_dots // (modules + 8)) or 1
    symbol = Image.new("L", (modules, modules), 255)
    symbol.putdata([0 if dark else 255 for row in matrix for dark in row])
    symbol = symbol.resize((modules * size, modules * size), Image.Resampling.NEAREST)
    quiet = 4 * size
    canvas = Image.new("L", (paper_dots, symbol.height + 2 * quiet), 255)
    free = paper_dots - symbol.width
    x = {Align.LEFT: min(quiet, free), Align.CENTER: free // 2, Align.RIGHT: max(free - quiet, 0)}[align]
    canvas.paste(symbol, (x, quiet))
    return canvas
