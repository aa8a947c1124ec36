"""Helpers for the deploy tests: the repository's deploy/ files, a venv-relative python, a self-signed cert."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PYTHON = Path(sys.executable)
RUYI = PYTHON.with_name("ruyi")


def need(tool: str) -> str:
    found = shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        pytest.skip(f"{tool} is not installed (scripts/system-packages.txt lists it; run scripts/setup.sh)")
    return found


def self_signed(directory: Path) -> tuple[Path, Path]:
    subprocess.run(["bash", str(DEPLOY / "nginx" / "self-signed.sh"), str(directory), "localhost"], check=True)
    return directory / "fullchain.pem", directory / "privkey.pem"
