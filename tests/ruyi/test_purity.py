"""ruyi is the pure core: no I/O, no clock, and it imports neither the server nor the terminal."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "ruyi"
ALLOWED = {
    "__future__", "base64", "collections", "dataclasses", "datetime", "decimal", "enum", "functools", "hashlib",
    "hmac", "itertools", "json", "math", "re", "typing", "uuid", "zoneinfo", "pydantic", "pydantic_core", "yaml",
    "ruyi",
}  # fmt: skip
CLOCK_CALLS = {"now", "today", "utcnow", "time", "monotonic", "perf_counter", "urandom", "uuid1", "uuid4"}


def modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(ROOT.rglob("*.py"))]


def test_ruyi_imports_only_pure_modules() -> None:
    for path, tree in modules():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"


def test_ruyi_reads_no_clock_and_opens_no_file() -> None:
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                assert name not in CLOCK_CALLS | {"open", "print", "input"}, f"{path.name}:{node.lineno} calls {name}"
