"""The loopback receipt printer moved to :mod:`terminal.virtual.printer`
(``ruyi demo`` uses it); the tests' imports from here keep working."""

from terminal.virtual.printer import DLE, EOT, STATUS_ANSWERS, CapturedJob, LoopbackPrinter, PrinterState

__all__ = ["DLE", "EOT", "STATUS_ANSWERS", "CapturedJob", "LoopbackPrinter", "PrinterState"]
