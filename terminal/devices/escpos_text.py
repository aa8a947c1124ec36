"""Chinese text for ESC/POS receipt printers: column widths, Chinese-mode bytes and bitmap lines.

A Chinese-market receipt printer prints a character in one of two cell widths: an ASCII byte takes one column
(12 dots on both 58 mm and 80 mm paper) and a double-byte GB character takes two, whatever Unicode says about the
character's "East Asian width" (`·`, `é` and `—` are "ambiguous" there, but print full-width). So a column count
is a count of GB bytes, and the bitmap fallback draws every character into the same grid, which keeps a line the
same width whether it goes out as text or as a picture.

Text goes out in the printer's Chinese mode: `FS &`, the GB18030 bytes (only the two-byte GBK part, or only the
GB2312 part, depending on the font the printer has), `FS .`. python-escpos 3.1 can do none of this: it has no
GB18030 code page and never sends `FS &`.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from terminal.devices.printing import Align, check_printable

FS_CHINESE_ON = b"\x1c\x26"  # FS &: select Kanji (Chinese) character mode
FS_CHINESE_OFF = b"\x1c\x2e"  # FS .: cancel Kanji (Chinese) character mode

DEFAULT_BITMAP_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

DOTS_PER_COLUMN = 12  # font A: 12 x 24 dots for ASCII, 24 x 24 for a GB character, on 58 and 80 mm printers
GLYPH_HEIGHT = 24
LINE_HEIGHT = 30  # dots a text line takes on the paper with the default line spacing

Charset = Literal["gb2312", "gbk", "gb18030"]
"""Which characters the printer's own font has: GB2312 (6,763 hanzi; the cheap printers), GBK, or all of GB18030."""

# Characters that are common on receipts but have no glyph in a GB font, mapped to the GB character printed
# in their place. U+00A5 YEN SIGN is 4 bytes in GB18030 (not in GBK); GB2312 has the full-width yuan sign.
_SUBSTITUTES = str.maketrans({"\u00a5": "\uffe5", "\u00a0": " "})


def normalize(text: str) -> str:
    """The text as the printer will print it (¥ becomes the full-width ￥ of GB2312, NBSP a space).

    Measure with :func:`display_width` after this, as every function here does.
    """
    return text.translate(_SUBSTITUTES)


def char_width(ch: str) -> int:
    """Columns a (normalized) character takes on the printer: 1 for ASCII, 2 for a GB double-byte character."""
    if ord(ch) < 0x80:
        return 1
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    try:
        encoded = ch.encode("gb18030")
    except UnicodeEncodeError:  # pragma: no cover - GB18030 covers all of Unicode except lone surrogates
        return 1
    return 2 if len(encoded) == 2 else 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in normalize(text))


def in_printer_font(ch: str, charset: Charset) -> bool:
    """Whether the printer's own font (per `charset`) has the (normalized) character.

    GB2312 here is the GB2312 code area of GBK (rows A1-F7, cells A1-FE, without the user-defined rows AA-AF),
    not Python's "gb2312" codec, which refuses `·` and `—` because of an old mapping quirk although every GB2312
    printer font has them.
    """
    if 0x20 <= ord(ch) < 0x7F:
        return True
    if ord(ch) < 0x80:
        return False
    try:
        encoded = ch.encode("gb18030")
    except UnicodeEncodeError:  # pragma: no cover - lone surrogates only
        return False
    if charset == "gb18030":
        return True
    if len(encoded) != 2:
        return False
    if charset == "gbk":
        return True
    lead, trail = encoded
    return 0xA1 <= lead <= 0xF7 and not 0xAA <= lead <= 0xAF and 0xA1 <= trail <= 0xFE


def fits_printer_font(text: str, charset: Charset) -> bool:
    return all(in_printer_font(ch, charset) for ch in normalize(text))


def chinese_mode_bytes(text: str) -> bytes:
    """The bytes for one line of text: plain ASCII as is, anything else inside `FS &` ... `FS .` in GB18030."""
    text = normalize(text)
    if text.isascii():
        return text.encode("ascii")
    return FS_CHINESE_ON + text.encode("gb18030") + FS_CHINESE_OFF


def wrap(text: str, columns: int) -> list[str]:
    """Split normalized text into pieces of at most `columns` columns, never inside a character."""
    if columns < 2:
        raise ValueError("a line needs at least 2 columns")
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for ch in normalize(text):
        width = char_width(ch)
        if used + width > columns:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += width
    if current or not pieces:
        pieces.append("".join(current))
    return pieces


def pad(text: str, columns: int, align: Align) -> str:
    """Normalized text padded with spaces to exactly `columns` columns (it must fit)."""
    text = normalize(text)
    free = columns - display_width(text)
    if free < 0:
        raise ValueError(f"{text!r} is wider than {columns} columns")
    if align is Align.LEFT:
        return text + " " * free
    if align is Align.RIGHT:
        return " " * free + text
    return " " * (free // 2) + text + " " * (free - free // 2)


def two_columns(label: str, amount: str, columns: int) -> list[str]:
    """A label on the left and an amount on the right, no line wider than `columns` columns.

    A label too long to share a line with the amount (at least one space between them) wraps; an amount wider
    than the paper wraps too, its last piece right-aligned. Nothing is ever refused for being too wide: a receipt
    must print on whatever paper the printer has, once the meal is recorded.
    """
    label, amount = normalize(label), normalize(amount)
    lines: list[str] = []
    amount_pieces = wrap(amount, columns)
    amount = amount_pieces[-1]
    amount_width = display_width(amount)
    room = columns - amount_width - 1
    label_pieces = wrap(label, columns) if label else [""]
    lines.extend(label_pieces[:-1])
    label = label_pieces[-1]
    if len(amount_pieces) > 1 or display_width(label) > room:
        if label:
            lines.append(label)
        label = ""
        lines.extend(amount_pieces[:-1])
    gap = columns - display_width(label) - amount_width
    lines.append(label + " " * gap + amount)
    return lines


def shorten(text: str, columns: int) -> str:
    """`text` cut to at most `columns` columns, ending in "…" (two columns in a GB font) when it was cut."""
    text = normalize(text)
    if display_width(text) <= columns:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        if used + char_width(ch) > columns - 2:
            break
        kept.append(ch)
        used += char_width(ch)
    return "".join(kept) + "…"


@functools.lru_cache(maxsize=16)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size=size, index=0)


def _glyph_pixels(path: Path, ch: str) -> bytes:
    image = Image.new("L", (2 * GLYPH_HEIGHT, LINE_HEIGHT), 255)
    ImageDraw.Draw(image).text((0, 0), ch, font=_font(path, GLYPH_HEIGHT), fill=0)
    return image.tobytes()


@functools.lru_cache(maxsize=4096)
def has_glyph(path: Path, ch: str) -> bool:
    """Whether the font draws `ch` as itself rather than as its "missing glyph" box."""
    return _glyph_pixels(path, ch) != _glyph_pixels(path, "\U0010fffd")  # a private-use code point: never in a font


def missing_glyphs(text: str, fonts: Sequence[Path]) -> list[str]:
    """The characters of `text` none of the fonts can draw (they would print as a box)."""
    return [ch for ch in normalize(text) if not ch.isspace() and not any(has_glyph(f, ch) for f in fonts)]


def render_line(
    text: str,
    *,
    columns: int,
    align: Align = Align.LEFT,
    bold: bool = False,
    scale: int = 1,
    fonts: Sequence[Path] = (DEFAULT_BITMAP_FONT,),
) -> Image.Image:
    """Draw one line of text as the printer would print it, as a full paper width black-on-white image.

    Each character gets its own cell (12 dots per column, times `scale` for double size), so the picture lines up
    with text lines. The alignment is drawn into the picture: some printers ignore `ESC a` for raster images.
    A character is drawn with the first of `fonts` that has it (WQY Zen Hei lacks the CJK extension B-F
    characters, such as 𠮷; a font that has them can follow it).
    """
    if not fonts:
        raise ValueError("no font to draw with")
    text = normalize(text)
    check_printable(text)
    cell = DOTS_PER_COLUMN * scale
    width_columns = display_width(text)
    line_columns = columns // scale
    if width_columns > line_columns:
        raise ValueError(f"{text!r} is wider than {line_columns} columns")
    image = Image.new("L", (columns * DOTS_PER_COLUMN, LINE_HEIGHT * scale), 255)
    draw = ImageDraw.Draw(image)
    free = line_columns - width_columns
    x = {Align.LEFT: 0, Align.CENTER: free // 2, Align.RIGHT: free}[align] * cell
    middle = image.height // 2
    for ch in text:
        box = char_width(ch) * cell
        if not ch.isspace():
            path = next((f for f in fonts if has_glyph(f, ch)), fonts[0])
            font = _font(path, GLYPH_HEIGHT * scale)
            _draw_glyph(image, draw, ch, font=font, x=x, box=box, middle=middle, bold=bold)
        x += box
    return image


def _draw_glyph(
    image: Image.Image,
    draw: ImageDraw.ImageDraw,
    ch: str,
    *,
    font: ImageFont.FreeTypeFont,
    x: int,
    box: int,
    middle: int,
    bold: bool,
) -> None:
    advance = font.getlength(ch)
    strokes = (0, 1) if bold else (0,)
    if advance <= box:
        for dx in strokes:
            draw.text((x + box / 2 + dx, middle), ch, font=font, fill=0, anchor="mm")
        return
    # Wider than its cell (a Latin M in a 12-dot cell): draw it apart and squeeze it in.
    glyph = Image.new("L", (int(advance) + 2, image.height), 255)
    glyph_draw = ImageDraw.Draw(glyph)
    for dx in strokes:
        glyph_draw.text((glyph.width / 2 + dx, middle), ch, font=font, fill=0, anchor="mm")
    image.paste(glyph.resize((box, image.height)), (x, 0), None)
