"""The ESC/POS receipt decoder moved to :mod:`terminal.virtual.escpos_decode`
(``ruyi demo`` uses it); the tests' imports from here keep working."""

from terminal.virtual.escpos_decode import (
    ALIGNMENTS,
    CR,
    DLE,
    ESC,
    FS,
    GS,
    HT,
    LF,
    Cut,
    Element,
    Line,
    QrCode,
    RasterImage,
    Receipt,
    UnknownCommand,
    decode,
)

__all__ = [
    "ALIGNMENTS",
    "CR",
    "DLE",
    "ESC",
    "FS",
    "GS",
    "HT",
    "LF",
    "Cut",
    "Element",
    "Line",
    "QrCode",
    "RasterImage",
    "Receipt",
    "UnknownCommand",
    "decode",
]
