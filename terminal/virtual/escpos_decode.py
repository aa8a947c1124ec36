"""Decode the ESC/POS bytes a receipt printer was sent into what the receipt says, for assertions.

It knows the commands the terminal sends (and a few neighbours): text in ASCII and, inside ``FS &`` ... ``FS .``,
in GB18030; alignment (``ESC a``), bold (``ESC E``, ``ESC !``), size (``GS !``), QR codes (``GS ( k``), raster
images (``GS v 0``), feeds and cuts; status queries (``DLE EOT``) are listed apart. Anything else is recorded in
``Receipt.unknown`` (a test asserts that it is empty) and decoding goes on after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
LF, CR, HT = 0x0A, 0x0D, 0x09

ALIGNMENTS = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


@dataclass(frozen=True)
class Line:
    text: str
    align: str
    bold: bool
    width: int
    """Character width multiplier (GS !), 1 to 8."""
    height: int
    chinese_mode: bool
    """Every non-ASCII character of the line was sent in Chinese mode (vacuously true for ASCII lines)."""


@dataclass(frozen=True)
class RasterImage:
    width: int
    """In dots (a multiple of 8)."""
    height: int
    align: str
    data: bytes

    def to_pil(self) -> Image.Image:
        """The image as a Pillow 1-bit image, black where the printer would print."""
        return Image.frombytes("1", (self.width, self.height), bytes(~byte & 0xFF for byte in self.data))

    @property
    def black_dots(self) -> int:
        return sum(bin(byte).count("1") for byte in self.data)


@dataclass(frozen=True)
class QrCode:
    data: str
    align: str
    module_size: int | None
    error_correction: str | None


@dataclass(frozen=True)
class Cut:
    partial: bool


@dataclass(frozen=True)
class UnknownCommand:
    offset: int
    data: bytes
    reason: str


Element = Line | RasterImage | QrCode | Cut


@dataclass
class Receipt:
    elements: list[Element] = field(default_factory=list)
    """Lines, images, QR codes and cuts in the order they print."""
    feeds: int = 0
    """Blank lines and lines fed by ESC d."""
    initialized: int = 0
    """How many times ESC @ was sent."""
    status_queries: list[int] = field(default_factory=list)
    unknown: list[UnknownCommand] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [e for e in self.elements if isinstance(e, Line)]

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    @property
    def images(self) -> list[RasterImage]:
        return [e for e in self.elements if isinstance(e, RasterImage)]

    @property
    def qr_codes(self) -> list[QrCode]:
        return [e for e in self.elements if isinstance(e, QrCode)]

    @property
    def cuts(self) -> list[Cut]:
        return [e for e in self.elements if isinstance(e, Cut)]

    def line(self, containing: str) -> Line:
        """The only line containing `containing`."""
        found = [line for line in self.lines if containing in line.text]
        if len(found) != 1:
            raise LookupError(f"{len(found)} lines contain {containing!r}: {self.texts}")
        return found[0]


@dataclass
class _State:
    align: str = "left"
    bold: bool = False
    width: int = 1
    height: int = 1
    chinese: bool = False


class _Decoder:
    def __init__(self, data: bytes, *, knows_qr: bool = True) -> None:
        self.knows_qr = knows_qr
        self.data = data
        self.pos = 0
        self.receipt = Receipt()
        self.state = _State()
        self.text: list[str] = []
        self.line_style: _State | None = None
        self.line_chinese_ok = True
        self.hanzi_run = bytearray()
        self.qr_store: str | None = None
        self.qr_size: int | None = None
        self.qr_ec: str | None = None

    # --- helpers

    def unknown(self, start: int, end: int, reason: str) -> None:
        self.receipt.unknown.append(UnknownCommand(start, bytes(self.data[start:end]), reason))

    def take(self, count: int) -> bytes | None:
        if self.pos + count > len(self.data):
            return None
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def start_char(self) -> None:
        if self.line_style is None:
            s = self.state
            self.line_style = _State(s.align, s.bold, s.width, s.height, s.chinese)

    def flush_hanzi(self) -> None:
        if not self.hanzi_run:
            return
        self.start_char()
        self.text.append(bytes(self.hanzi_run).decode("gb18030", errors="replace"))
        self.hanzi_run.clear()

    def end_line(self, *, printed_by_lf: bool) -> None:
        self.flush_hanzi()
        if self.line_style is not None:
            s = self.line_style
            self.receipt.elements.append(
                Line("".join(self.text), s.align, s.bold, s.width, s.height, self.line_chinese_ok)
            )
        elif printed_by_lf:
            self.receipt.feeds += 1
        self.text = []
        self.line_style = None
        self.line_chinese_ok = True

    # --- the command set

    def run(self) -> Receipt:
        data = self.data
        while self.pos < len(data):
            byte = data[self.pos]
            if byte >= 0x80:
                start = self.pos
                if self.state.chinese:
                    self.hanzi_run.append(byte)
                    self.pos += 1
                else:
                    self.pos += 1
                    self.start_char()
                    self.text.append("\ufffd")
                    self.line_chinese_ok = False
                    self.unknown(start, self.pos, "non-ASCII byte outside Chinese mode")
                continue
            if 0x20 <= byte < 0x7F:
                if self.hanzi_run and self.state.chinese and _inside_multibyte(self.hanzi_run):
                    self.hanzi_run.append(byte)  # second or third byte of a GB18030 character
                else:
                    self.flush_hanzi()
                    self.start_char()
                    self.text.append(chr(byte))
                self.pos += 1
                continue
            self.flush_hanzi()
            self.command()
        self.flush_hanzi()
        if self.line_style is not None:
            self.end_line(printed_by_lf=False)  # text left in the buffer: a printer prints it at the cut
        if self.qr_store is not None:
            self.receipt.unknown.append(UnknownCommand(len(data), b"", "QR code stored but never printed"))
        return self.receipt

    def command(self) -> None:
        start = self.pos
        byte = self.data[self.pos]
        self.pos += 1
        if byte == LF:
            self.end_line(printed_by_lf=True)
        elif byte == CR:
            pass
        elif byte == HT:
            self.start_char()
            self.text.append("\t")
        elif byte == ESC:
            self.esc(start)
        elif byte == GS:
            self.gs(start)
        elif byte == FS:
            self.fs(start)
        elif byte == DLE:
            self.dle(start)
        else:
            self.unknown(start, self.pos, f"control byte 0x{byte:02X}")

    def esc(self, start: int) -> None:
        head = self.take(1)
        if head is None:
            return self.unknown(start, self.pos, "truncated ESC")
        code = chr(head[0])
        if code == "@":
            self.end_line(printed_by_lf=False)
            self.state = _State()
            self.receipt.initialized += 1
            return None
        if code == "2":
            return None
        arg = self.take(1)
        if arg is None or code not in "aE!d-3tMG":
            self.pos = start + 2
            return self.unknown(start, self.pos, f"ESC {code!r}")
        n = arg[0]
        if code == "a":
            if n not in ALIGNMENTS:
                return self.unknown(start, self.pos, f"ESC a {n}")
            self.state.align = ALIGNMENTS[n]
        elif code == "E":
            self.state.bold = bool(n & 1)
        elif code == "!":
            self.state.bold = bool(n & 0x08)
        elif code == "d":
            self.end_line(printed_by_lf=False)
            self.receipt.feeds += n
        return None

    def gs(self, start: int) -> None:
        head = self.take(1)
        if head is None:
            return self.unknown(start, self.pos, "truncated GS")
        code = chr(head[0])
        if code == "!":
            arg = self.take(1)
            if arg is None:
                return self.unknown(start, self.pos, "truncated GS !")
            self.state.width = (arg[0] >> 4) + 1
            self.state.height = (arg[0] & 0x0F) + 1
        elif code == "V":
            self.cut(start)
        elif code == "v":
            self.raster(start)
        elif code == "(":
            self.gs_paren(start)
        else:
            self.unknown(start, self.pos, f"GS {code!r}")
        return None

    def cut(self, start: int) -> None:
        arg = self.take(1)
        if arg is None:
            return self.unknown(start, self.pos, "truncated GS V")
        m = arg[0]
        if m in (65, 66):
            feed = self.take(1)
            if feed is None:
                return self.unknown(start, self.pos, "truncated GS V")
        elif m not in (0, 1, 48, 49):
            return self.unknown(start, self.pos, f"GS V {m}")
        self.end_line(printed_by_lf=False)
        self.receipt.elements.append(Cut(partial=m in (1, 49, 66)))
        return None

    def raster(self, start: int) -> None:
        header = self.take(6)
        if header is None or header[0] != ord("0"):
            self.pos = start + 2
            return self.unknown(start, self.pos, "GS v other than GS v 0")
        width_bytes = header[2] | header[3] << 8
        height = header[4] | header[5] << 8
        body = self.take(width_bytes * height)
        if body is None:
            return self.unknown(start, len(self.data), "truncated GS v 0 image")
        self.end_line(printed_by_lf=False)
        self.receipt.elements.append(RasterImage(width_bytes * 8, height, self.state.align, bytes(body)))
        return None

    def gs_paren(self, start: int) -> None:
        header = self.take(3)
        if header is None:
            return self.unknown(start, len(self.data), "truncated GS (")
        function, length = chr(header[0]), header[1] | header[2] << 8
        body = self.take(length)
        if body is None:
            return self.unknown(start, len(self.data), f"truncated GS ( {function}")
        if function != "k" or len(body) < 2 or body[0] != 49 or not self.knows_qr:
            return self.unknown(start, self.pos, f"GS ( {function} (only QR codes, GS ( k cn=49, are known)")
        fn, params = body[1], body[2:]
        if fn == 65:  # model
            pass
        elif fn == 67 and params:  # module size
            self.qr_size = params[0]
        elif fn == 69 and params:  # error correction
            self.qr_ec = {48: "L", 49: "M", 50: "Q", 51: "H"}.get(params[0])
        elif fn == 80 and params[:1] == b"0":  # store the data (function 180)
            self.qr_store = bytes(params[1:]).decode("utf-8", errors="replace")
        elif fn == 81:  # print the stored symbol (function 181)
            if self.qr_store is None:
                return self.unknown(start, self.pos, "QR code printed with nothing stored")
            self.end_line(printed_by_lf=False)
            self.receipt.elements.append(QrCode(self.qr_store, self.state.align, self.qr_size, self.qr_ec))
            self.qr_store = None
        else:
            self.unknown(start, self.pos, f"QR function {fn}")
        return None

    def fs(self, start: int) -> None:
        head = self.take(1)
        if head is None:
            return self.unknown(start, self.pos, "truncated FS")
        if head[0] == ord("&"):
            self.state.chinese = True
        elif head[0] == ord("."):
            self.state.chinese = False
        elif head[0] == ord("!"):
            if self.take(1) is None:
                return self.unknown(start, self.pos, "truncated FS !")
        else:
            self.unknown(start, self.pos, f"FS {chr(head[0])!r}")
        return None

    def dle(self, start: int) -> None:
        head = self.take(2)
        if head is None or head[0] != 0x04 or head[1] not in (1, 2, 3, 4):
            self.pos = min(start + 2, len(self.data))
            return self.unknown(start, self.pos, "DLE other than DLE EOT n")
        self.receipt.status_queries.append(head[1])
        return None


def _inside_multibyte(run: bytearray) -> bool:
    """Whether the GB18030 run ends in the middle of a character (so an ASCII-range byte is a trail byte)."""
    i = 0
    while i < len(run):
        if run[i] < 0x80:
            i += 1
        elif i + 1 < len(run) and 0x30 <= run[i + 1] <= 0x39:
            i += 4
        else:
            i += 2
    return i > len(run)


def decode(data: bytes, *, knows_qr: bool = True) -> Receipt:
    """Decode what a printer was sent. Text that was never ended by LF is still reported as a line.

    ``knows_qr=False`` decodes as a printer without the QR command (``GS ( k``) would: such a command is unknown."""
    return _Decoder(bytes(data), knows_qr=knows_qr).run()
