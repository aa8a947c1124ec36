"""Server areas import each other in one direction only (modelled on tests/ruyi/test_purity.py).

Three layers sit below the areas and above none of them: the foundation modules (server/base.py, sql.py, months.py,
config.py, errors.py, db.py), every area's ``tables.py`` (the schema: any area may read any table), and
``auth.principal`` (who is asking). Routes are the HTTP layer on top: they may use any area's service and the
auth dependencies. Between the areas' other modules every import goes down :data:`LAYERS`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOUNDATION = {"server.base", "server.sql", "server.config", "server.errors", "server.db", "server.months"}
SHARED = {"server.auth.principal"}
LAYERS = (
    "audit", "auth", "canteens", "rules", "elders", "cards", "meals", "quotes", "sync", "settlements", "ops",
)  # fmt: skip
"""The areas, lowest first: an area imports only areas before it."""
NEVER = (
    ("server.meals", "server.sync"),
    ("server.settlements", "server.sync.intake"),
    ("server.settlements", "server.sync.service"),
    ("server.elders", "server.cards.service"),
    ("server.quotes", "server.sync"),
    ("server.sync.intake", "server.sync.service"),
)
"""(importer prefix, imported prefix) pairs that must not occur, whatever the layers say."""


def _module(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports() -> dict[str, set[str]]:
    """Every server module and the server modules it imports (at the top or inside a function)."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / "server").rglob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("server"):
                subs = {f"{node.module}.{a.name}" for a in node.names}
                found |= {s for s in subs if _is_module(s)} or {node.module}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("server")}
        out[_module(path)] = found
    return out


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def _layered(module: str) -> bool:
    """A module of an area below the HTTP layer and above the schema."""
    return _area(module) is not None and not module.endswith((".tables", ".routes")) and module not in SHARED


def test_every_area_is_listed() -> None:
    areas = {_area(m) for m in imports()} - {None}
    assert areas == set(LAYERS), "add the new area to LAYERS, where it belongs"


def test_foundation_and_tables_import_no_area_above_them() -> None:
    for module, targets in imports().items():
        if module in FOUNDATION:
            assert targets <= FOUNDATION, f"{module} imports {targets - FOUNDATION}"
        if _area(module) is not None and module.endswith(".tables"):
            wrong = {t for t in targets if t not in FOUNDATION and not t.endswith(".tables")}
            assert not wrong, f"{module} imports {wrong}"


def test_areas_import_downwards_only() -> None:
    for module, targets in imports().items():
        if not _layered(module):
            continue
        for target in targets:
            area, other = _area(module), _area(target)
            if other is None or other == area or not _layered(target):
                continue
            assert LAYERS.index(other) < LAYERS.index(area), f"{module} imports {target}: {other} is above {area}"


def test_area_graph_is_acyclic() -> None:
    graph: dict[str, set[str]] = {a: set() for a in LAYERS}
    for module, targets in imports().items():
        area = _area(module)
        if area is not None and _layered(module):
            graph[area] |= {o for t in targets if _layered(t) and (o := _area(t)) is not None and o != area}
    done: set[str] = set()

    def visit(area: str, path: tuple[str, ...]) -> None:
        assert area not in path, f"import cycle: {' -> '.join((*path, area))}"
        if area not in done:
            for nxt in graph[area]:
                visit(nxt, (*path, area))
            done.add(area)

    for area in LAYERS:
        visit(area, ())


def test_named_directions() -> None:
    for module, targets in imports().items():
        for importer, imported in NEVER:
            if module == importer or module.startswith(importer + "."):
                wrong = {t for t in targets if t == imported or t.startswith(imported + ".")}
                assert not wrong, f"{module} imports {wrong}"
