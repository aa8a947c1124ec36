"""The private pcscd with the vpcd driver moved to :mod:`terminal.virtual.pcscd`
(``ruyi demo`` uses it); the tests' imports from here keep working."""

from terminal.virtual.pcscd import FRIENDLY_NAME, READER_NAME, VPCD_DRIVER, PcscdError, PrivatePcscd, socket_path

__all__ = ["FRIENDLY_NAME", "READER_NAME", "VPCD_DRIVER", "PcscdError", "PrivatePcscd", "socket_path"]
