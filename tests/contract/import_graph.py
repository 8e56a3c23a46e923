"""The project's import graph, read from the source with `ast` (no module is imported).

Every import counts, wherever it stands: at module level, inside a function (a lazy import)
or under `if TYPE_CHECKING:` (the type checker follows it, and a cycle there is a cycle in
the design). A module that calls `importlib.import_module` imports every project module
named by a string constant in it (tables like kiosk.app.SCREENS).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kiosk", "sync", "clinic", "screens")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Return every module of the shipped packages by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic loads these by path, they are not part of the graph
            found[module_name(path)] = path
    return found


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.names: set[str] = set()
        self.strings: set[str] = set()
        self.imports_by_name = False

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module, node, self.is_package)
        # `from pkg import mod` imports pkg.mod when that is a module, else pkg itself
        # (graph() attributes each name to the deepest module it names).
        self.names.update(f"{base}.{alias.name}" for alias in node.names)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__"):
            self.imports_by_name = True
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str) and "." in value and value.replace(".", "").isidentifier():
            self.strings.add(node.value)


def imports_of(module: str, path: Path) -> set[str]:
    """Return every module name `path` imports, resolved to absolute dotted names."""
    collector = _Collector(module, path.name == "__init__.py")
    collector.visit(ast.parse(path.read_text("utf-8"), str(path)))
    if collector.imports_by_name:
        return collector.names | collector.strings
    return collector.names


def all_imports() -> dict[str, set[str]]:
    """Return project module -> every name it imports (third-party ones included)."""
    return {name: imports_of(name, path) for name, path in project_modules().items()}


def graph() -> dict[str, set[str]]:
    """Return project module -> project modules it imports (edges inside the project only)."""
    modules = project_modules()
    edges: dict[str, set[str]] = {}
    for name, imported_names in all_imports().items():
        targets: set[str] = set()
        for imported in imported_names:
            # Attribute each import to the deepest project module it names.
            parts = imported.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            target = ".".join(parts)
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    """Return every project module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
