"""ESC/POS receipt printers: the :class:`~terminal.devices.printing.ReceiptPrinter` the terminal drives.

How a document becomes bytes: python-escpos builds the commands on a ``Dummy`` printer (styles, native QR code,
raster images, cut); text lines are added as raw bytes in the printer's Chinese mode (``FS &`` GB18030 ``FS .``),
which python-escpos cannot produce; a line with a character the printer's font lacks, or every line of a printer
configured with ``text_mode: bitmap``, goes out as a picture drawn with Pillow. The same bytes then go to the
printer through python-escpos's ``Network``, ``Usb``, ``Serial`` or ``File`` class. Every operation of a link has
a deadline, and a watchdog thread bounds what nothing else does.

Before a receipt is sent, the printer is asked for its real-time status (``DLE EOT 1``, ``2``, ``4``), so that an
offline printer, an open cover or an empty roll is reported instead of a receipt lost in the printer's buffer.
A printer configured with ``status = "none"`` (it never answers) is sent the receipt at once and asked once
afterwards, briefly. The other quirks of cheap printers (the yuan sign, Chinese mode before a QR code, a QR code as
a picture) are settings too: :mod:`terminal.devices.escpos_quirks`.

python-escpos is imported when the first printer is made, not with this module: the import makes its capability
cache directory (``ESCPOS_CAPABILITIES_PICKLE_DIR``, read only then) and calls ``logging.basicConfig()``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, NamedTuple, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from terminal.devices.escpos_quirks import QrMode, StatusMode, YuanSign, decode_status, money_text, raster_qr
from terminal.devices.escpos_text import (
    DEFAULT_BITMAP_FONT,
    FS_CHINESE_OFF,
    Charset,
    chinese_mode_bytes,
    display_width,
    fits_printer_font,
    missing_glyphs,
    render_line,
    shorten,
    two_columns,
    wrap,
)
from terminal.devices.printing import (
    Align,
    Block,
    Cut,
    Feed,
    PaperWidth,
    PrinterError,
    PrinterErrorCode,
    PrinterStatus,
    QrCode,
    ReceiptDocument,
    Separator,
    TextLine,
    TwoColumnLine,
)

__all__ = [
    "EscposPrinter",
    "FileConnection",
    "PrinterConfig",
    "SerialConnection",
    "TcpConnection",
    "UsbConnection",
    "decode_status",
]

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"  # real-time status transmission; answered even while the printer is offline

# The worker thread gets this long after the deadline to report its own (more precise) error before the caller
# gives up on it.
_GRACE_S = 0.25


# --- configuration -------------------------------------------------------------------------------------------


class _Connection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TcpConnection(_Connection):
    kind: Literal["tcp"] = "tcp"
    host: str
    port: int = Field(default=9100, ge=1, le=65535)


class UsbConnection(_Connection):
    kind: Literal["usb"] = "usb"
    vendor_id: int
    product_id: int
    in_ep: int = 0x82
    out_ep: int = 0x01


class SerialConnection(_Connection):
    kind: Literal["serial"] = "serial"
    device: str
    baudrate: int = 9600
    dsrdtr: bool = True


class FileConnection(_Connection):
    """A device file (``/dev/usb/lp0``) or a plain file; it cannot answer status queries."""

    kind: Literal["file"] = "file"
    path: Path


Connection = Annotated[TcpConnection | UsbConnection | SerialConnection | FileConnection, Field(discriminator="kind")]


class PrinterConfig(BaseModel):
    """One receipt printer, as the terminal's configuration file describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection: Connection
    paper: PaperWidth = PaperWidth.MM80
    text_mode: Literal["chinese", "bitmap"] = "chinese"
    """``chinese``: text in the printer's Chinese mode, pictures only for characters its font lacks.
    ``bitmap``: every line is a picture (a printer without a Chinese font, or with a broken one)."""
    charset: Charset = "gb2312"
    """The characters the printer's font has; any other character makes its line a picture."""
    timeout_s: float = Field(default=3.0, gt=0, le=30)
    """The longest a print or a status query may take, connecting included."""
    bitmap_fonts: tuple[Path, ...] = Field(default=(DEFAULT_BITMAP_FONT,), min_length=1)
    """Fonts for lines printed as pictures, tried in order for each character."""
    qr_module_size: int = Field(default=6, ge=1, le=16)
    # The quirks of printers as they are (terminal.devices.escpos_quirks; the README's "Printers" says which fits):
    status: StatusMode = "realtime"
    """``none`` for a printer that does not answer ``DLE EOT``: print, then ask once (``status_check_s``)."""
    status_check_s: float = Field(default=0.5, gt=0, le=5)
    """With ``status = "none"``: how long to wait for an answer after printing (none: printed, state unknown)."""
    yuan_sign: YuanSign = "fullwidth"
    qr: QrMode = "native"
    qr_leave_chinese_mode: bool = False
    """Send ``FS .`` before a QR code, for printers that start in Chinese mode and read its data as hanzi."""


# --- rendering -------------------------------------------------------------------------------------------------


class _Escpos(NamedTuple):
    printer: Any
    """The module ``escpos.printer`` (``Dummy``, ``Network``, ``Usb``, ``Serial``, ``File``)."""
    qr_level_m: Any
    not_found: type[Exception]


_loaded: list[_Escpos] = []


def _escpos(cache_dir: Path | None = None) -> _Escpos:
    """python-escpos, imported on first use; ``cache_dir`` (made if missing) holds its capability cache when the
    import is still to come."""
    if not _loaded:
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(cache_dir))
        from escpos import printer  # noqa: PLC0415
        from escpos.constants import QR_ECLEVEL_M  # noqa: PLC0415
        from escpos.exceptions import DeviceNotFoundError  # noqa: PLC0415

        _loaded.append(_Escpos(printer, QR_ECLEVEL_M, DeviceNotFoundError))
    return _loaded[0]


def _lines_room(lines: int, columns: int) -> int:
    """Columns of text sure to wrap into ``lines`` lines (a line may end one column short before a hanzi)."""
    return lines * columns - (lines - 1)


class _Renderer:
    """Builds the ESC/POS bytes of one document on a python-escpos ``Dummy`` printer."""

    def __init__(self, config: PrinterConfig) -> None:
        self._config = config
        self._columns = config.paper.columns
        self._out: Any = _escpos().printer.Dummy()
        # python-escpos prints a warning on stdout for every image unless the profile knows the paper width, and
        # the default profile's data is shared by all printers: give this one its own copy.
        profile_data = copy.deepcopy(self._out.profile.profile_data)
        profile_data["media"]["width"] = {"mm": int(config.paper), "pixels": config.paper.dots}
        self._out.profile.profile_data = profile_data
        self._align: Align | None = None
        self._bold: bool | None = None
        self._scale: int | None = None

    def render(self, doc: ReceiptDocument) -> bytes:
        self._out.hw("INIT")  # ESC @: forget whatever mode an earlier (perhaps interrupted) job left behind
        for block in doc.blocks:
            self._block(block)
        return bytes(self._out.output)

    def _block(self, block: Block) -> None:
        sign = self._config.yuan_sign
        if isinstance(block, TextLine) and sign != "fullwidth":
            block = replace(block, text=money_text(block.text, sign))
        elif isinstance(block, TwoColumnLine) and sign != "fullwidth":
            block = replace(block, label=money_text(block.label, sign), amount=money_text(block.amount, sign))
        match block:
            case TextLine(text=text, align=align, bold=bold, double=double, max_lines=max_lines, shrink=shrink):
                scale = 2 if double else 1
                if shrink and display_width(text) > self._columns // scale:
                    scale = 1
                if max_lines is not None:
                    text = shorten(text, _lines_room(max_lines, self._columns // scale))
                for piece in wrap(text, self._columns // scale):
                    self._line(piece, align, bold, scale)
            case TwoColumnLine(label=label, amount=amount, bold=bold, double=double, max_label_lines=max_lines):
                scale = 2 if double else 1
                if max_lines is not None:
                    label = shorten(label, _lines_room(max_lines, self._columns // scale))
                for piece in two_columns(label, amount, self._columns // scale):
                    self._line(piece, Align.LEFT, bold, scale)
            case Separator(char=char):
                self._line(char * (self._columns // display_width(char)), Align.LEFT, False, 1)
            case QrCode(data=data, align=align):
                self._qr(data, align)
            case Feed(lines=lines):
                self._out.print_and_feed(lines)
            case Cut(partial=partial):
                self._out.cut(mode="PART" if partial else "FULL")

    def _qr(self, data: str, align: Align) -> None:
        config = self._config
        if config.qr_leave_chinese_mode:
            self._out._raw(FS_CHINESE_OFF)
        if config.qr == "raster":
            dots = config.paper.dots
            picture = raster_qr(data, module_size=config.qr_module_size, paper_dots=dots, align=align)
            self._out.image(picture, impl="bitImageRaster")
            return
        self._style(align=align)
        self._out.qr(data, native=True, size=config.qr_module_size, ec=_escpos().qr_level_m)

    def _line(self, text: str, align: Align, bold: bool, scale: int) -> None:
        if self._config.text_mode == "bitmap" or not fits_printer_font(text, self._config.charset):
            picture = render_line(
                text,
                columns=self._columns,
                align=align,
                bold=bold,
                scale=scale,
                fonts=self._config.bitmap_fonts,
            )
            if missing := missing_glyphs(text, self._config.bitmap_fonts):
                log.warning("%d character(s) of a receipt line are in none of the bitmap fonts", len(missing))
            self._out.image(picture, impl="bitImageRaster")
            return
        self._style(align=align, bold=bold, scale=scale)
        self._out._raw(chinese_mode_bytes(text) + b"\n")

    def _style(self, *, align: Align, bold: bool | None = None, scale: int | None = None) -> None:
        if align is not self._align:
            self._out.set(align=align.value)
            self._align = align
        if bold is not None and bold != self._bold:
            self._out.set(bold=bold)
            self._bold = bold
        if scale is not None and scale != self._scale:
            # GS ! (python-escpos "custom size") sizes Chinese characters too; its double_width/double_height
            # use ESC !, which only sizes ASCII.
            self._out.set(custom_size=True, width=scale, height=scale)
            self._scale = scale


# --- connections -------------------------------------------------------------------------------------------------


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise PrinterError(PrinterErrorCode.TIMEOUT, "out of time")
    return left


def _wait(deadline: float, wait_s: float | None) -> float:
    left = _remaining(deadline)
    return left if wait_s is None else min(left, wait_s)


class _Link(Protocol):
    """One open connection to the printer, every operation bounded by the deadline it was opened with."""

    def query(self, n: int, wait_s: float | None = None) -> int | None:
        """Send ``DLE EOT n`` and return the answer byte (waiting at most ``wait_s`` when given), or None if this
        connection cannot answer."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Called from another thread to wake an operation blocked past the deadline."""
        ...


class _NetworkLink:
    def __init__(self, conn: TcpConnection, deadline: float) -> None:
        self._where = f"{conn.host}:{conn.port}"
        self._deadline = deadline
        self._printer: Any = _escpos().printer.Network(conn.host, conn.port, timeout=_remaining(deadline))
        # Connect here rather than with Network.open(), which drops the socket unclosed when connecting fails.
        try:
            sock = socket.create_connection((conn.host, conn.port), timeout=_remaining(deadline))
        except TimeoutError as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where} did not answer the connection") from exc
        except OSError as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"cannot connect to {self._where}: {exc}") from exc
        self._printer.device = sock
        self._sock = sock

    def query(self, n: int, wait_s: float | None = None) -> int:
        self.write(DLE_EOT + bytes((n,)))
        self._sock.settimeout(_wait(self._deadline, wait_s))
        try:
            answer = self._sock.recv(1)
        except TimeoutError as exc:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not answer DLE EOT {n}") from exc
        except OSError as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc
        if not answer:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where} closed the connection")
        return answer[0]

    def write(self, data: bytes) -> None:
        self._sock.settimeout(_remaining(self._deadline))
        try:
            self._printer._raw(data)
        except TimeoutError as exc:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not take the data") from exc
        except OSError as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc

    def close(self) -> None:
        # Read away any answer still queued: closing a socket with unread data resets the connection, which may
        # cost the printer the end of the receipt.
        try:
            self._sock.setblocking(False)
            while self._sock.recv(64):
                pass
        except OSError:  # BlockingIOError: nothing (more) to read
            pass
        self._printer.close()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


def _driver(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PrinterError(PrinterErrorCode.UNAVAILABLE, f"{module} is not installed (python-escpos[{extra}])") from exc


class _UsbLink:
    """Not exercised by the test suite (no USB printer there); pyusb timeouts bound every call."""

    def __init__(self, conn: UsbConnection, deadline: float) -> None:
        usb_core = _driver("usb.core", "usb")
        self._usb_error: type[Exception] = usb_core.USBError
        self._usb_timeout: type[Exception] = usb_core.USBTimeoutError
        self._where = f"USB {conn.vendor_id:04x}:{conn.product_id:04x}"
        self._deadline = deadline
        self._printer: Any = _escpos().printer.Usb(
            conn.vendor_id, conn.product_id, timeout=self._ms(), in_ep=conn.in_ep, out_ep=conn.out_ep
        )
        try:
            self._printer.open()
        except _escpos().not_found as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where} not found") from exc

    def _ms(self) -> int:
        return max(1, int(_remaining(self._deadline) * 1000))

    def query(self, n: int, wait_s: float | None = None) -> int:
        self.write(DLE_EOT + bytes((n,)))
        try:
            answer = self._printer.device.read(
                self._printer.in_ep, 16, max(1, int(_wait(self._deadline, wait_s) * 1000))
            )
        except self._usb_timeout as exc:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not answer DLE EOT {n}") from exc
        except self._usb_error as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc
        if not answer:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not answer DLE EOT {n}")
        return int(answer[0])

    def write(self, data: bytes) -> None:
        self._printer.timeout = self._ms()
        try:
            self._printer._raw(data)
        except self._usb_timeout as exc:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not take the data") from exc
        except self._usb_error as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc

    def close(self) -> None:
        self._printer.close()

    def abort(self) -> None:
        pass


class _SerialLink:
    """Not exercised by the test suite (pyserial is not installed there); pyserial timeouts bound every call."""

    def __init__(self, conn: SerialConnection, deadline: float) -> None:
        serial = _driver("serial", "serial")
        self._serial_error: type[Exception] = serial.SerialException
        self._serial_timeout: type[Exception] = serial.SerialTimeoutException
        self._where = conn.device
        self._deadline = deadline
        self._printer: Any = _escpos().printer.Serial(
            devfile=conn.device, baudrate=conn.baudrate, timeout=_remaining(deadline), dsrdtr=conn.dsrdtr
        )
        try:
            self._printer.open()
        except _escpos().not_found as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"cannot open {self._where}") from exc

    def query(self, n: int, wait_s: float | None = None) -> int:
        self.write(DLE_EOT + bytes((n,)))
        device = self._printer.device
        device.timeout = _wait(self._deadline, wait_s)
        answer = device.read(1)  # python-escpos's _read() waits for 16 bytes: the whole timeout, every time
        if not answer:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not answer DLE EOT {n}")
        return int(answer[0])

    def write(self, data: bytes) -> None:
        self._printer.device.write_timeout = _remaining(self._deadline)
        try:
            self._printer._raw(data)
        except self._serial_timeout as exc:
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"{self._where} did not take the data") from exc
        except self._serial_error as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc

    def close(self) -> None:
        self._printer.close()

    def abort(self) -> None:
        pass


class _FileLink:
    """Opening or writing may block for good (a parallel port with the printer off): the caller's watchdog bounds
    it, and a job that gets through after its deadline writes nothing, so a reprint is not a duplicate."""

    def __init__(self, conn: FileConnection, deadline: float) -> None:
        self._where = str(conn.path)
        self._deadline = deadline
        self._printer: Any = _escpos().printer.File(devfile=self._where)
        try:
            self._printer.open()
        except _escpos().not_found as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"cannot open {self._where}") from exc

    def query(self, n: int, wait_s: float | None = None) -> None:
        return None

    def write(self, data: bytes) -> None:
        _remaining(self._deadline)  # an open() that came back too late: the caller has given up on this receipt
        try:
            self._printer._raw(data)
        except OSError as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc

    def close(self) -> None:
        try:
            self._printer.close()
        except OSError as exc:
            raise PrinterError(PrinterErrorCode.OFFLINE, f"{self._where}: {exc}") from exc

    def abort(self) -> None:
        pass


def _open_link(conn: TcpConnection | UsbConnection | SerialConnection | FileConnection, deadline: float) -> _Link:
    match conn:
        case TcpConnection():
            return _NetworkLink(conn, deadline)
        case UsbConnection():
            return _UsbLink(conn, deadline)
        case SerialConnection():
            return _SerialLink(conn, deadline)
        case FileConnection():
            return _FileLink(conn, deadline)


def _query_status(link: _Link, wait_s: float | None = None) -> PrinterStatus:
    printer_status = link.query(1, wait_s)
    if printer_status is None:
        return PrinterStatus(None, queried=False)
    offline_cause = link.query(2, wait_s)
    paper_sensor = link.query(4, wait_s)
    assert offline_cause is not None and paper_sensor is not None
    return decode_status(printer_status, offline_cause, paper_sensor)


def _check_once(link: _Link, wait_s: float) -> None:
    """After printing to a printer configured as not answering status queries: ask once, briefly. No answer is
    the expected case (printed, state unknown); an answer that tells of a fault means the receipt may be lost."""
    try:
        status = _query_status(link, wait_s)
    except PrinterError as exc:
        if exc.code is not PrinterErrorCode.TIMEOUT:
            raise
        log.debug("receipt printer gave no status answer after printing (status = none)")
        return
    if status.problem is not None:
        raise PrinterError(status.problem, f"after printing: {status.detail}")


T = TypeVar("T")


@dataclass(slots=True)
class _Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    link: _Link | None = None


# --- the printer -------------------------------------------------------------------------------------------------


class EscposPrinter:
    """A receipt printer speaking ESC/POS over TCP, USB, serial or a device file (implements ReceiptPrinter)."""

    def __init__(self, config: PrinterConfig, *, cache_dir: Path | None = None) -> None:
        """``cache_dir``: where python-escpos keeps its capability cache, if this is the first printer made."""
        for font in config.bitmap_fonts:
            if not font.is_file():
                raise ValueError(f"bitmap font {font} not found (Debian: fonts-wqy-zenhei)")
        _escpos(cache_dir)
        self.config = config
        self._io = threading.Lock()  # one job at a time; a job abandoned at its deadline still holds it

    def render(self, doc: ReceiptDocument) -> bytes:
        """The ESC/POS bytes of a document, as they go to the printer (after the status queries)."""
        return _Renderer(self.config).render(doc)

    def print_document(self, doc: ReceiptDocument) -> None:
        payload = self.render(doc)

        def job(link: _Link) -> None:
            if self.config.status == "none":
                link.write(payload)
                _check_once(link, self.config.status_check_s)
                return
            status = _query_status(link)
            if status.problem is not None:
                raise PrinterError(status.problem, status.detail)
            link.write(payload)

        self._run(job)

    def status(self) -> PrinterStatus:
        if isinstance(self.config.connection, FileConnection) or self.config.status == "none":
            # Opening the file would truncate it (python-escpos opens with "wb"); a file has no status anyway.
            return PrinterStatus(None, queried=False)
        try:
            return self._run(_query_status)
        except PrinterError as exc:
            return PrinterStatus(exc.code, detail=exc.detail)

    def _run(self, job: Callable[[_Link], T]) -> T:
        """Run `job` on a fresh connection in a worker thread; give up on it at the deadline.

        Network operations carry the deadline themselves, so the worker normally ends by itself with a precise
        error; the thread is only the guarantee for the cases nothing else bounds (a blocked device file).
        """
        timeout = self.config.timeout_s
        deadline = time.monotonic() + timeout
        outcome: _Outcome[T] = _Outcome()

        def work() -> None:
            if not self._io.acquire(timeout=max(0.0, deadline - time.monotonic())):
                outcome.error = PrinterError(PrinterErrorCode.TIMEOUT, "still busy with an earlier receipt")
                return
            try:
                outcome.link = _open_link(self.config.connection, deadline)
                try:
                    outcome.value = job(outcome.link)
                finally:
                    outcome.link.close()
            except BaseException as exc:  # handed over to the caller's thread, which raises it
                outcome.error = exc
            finally:
                self._io.release()

        worker = threading.Thread(target=work, name="receipt-printer-io", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()) + _GRACE_S)
        if worker.is_alive():
            if outcome.link is not None:
                outcome.link.abort()
            worker.join(_GRACE_S)
            log.warning("receipt printer gave no answer within %.1f s", timeout)
            raise PrinterError(PrinterErrorCode.TIMEOUT, f"no answer within {timeout:g} s")
        if outcome.error is not None:
            if isinstance(outcome.error, PrinterError):
                log.warning("receipt printer: %s", outcome.error)
            raise outcome.error
        return cast(T, outcome.value)  # set whenever the job returned
