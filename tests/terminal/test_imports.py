"""The counter, the configuration, the snapshot and the receipts import no hardware library: the drivers
(python-escpos, pyscard) are imported only by the devices that use them."""

from __future__ import annotations

import subprocess
import sys


def test_core_modules_import_no_driver() -> None:
    code = (
        "import sys\n"
        "import terminal.counter, terminal.config, terminal.snapshot, terminal.receipt\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('escpos', 'smartcard')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
