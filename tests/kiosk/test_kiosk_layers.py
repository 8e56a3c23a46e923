"""Layers and privacy by construction: no Kivy below the app, thin screens, no data in errors."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]

#: What a screen may not import: storage, network, threads (screens call the kiosk facade).
FORBIDDEN_IN_SCREENS = {
    "sqlalchemy",
    "sqlite3",
    "requests",
    "httpx",
    "urllib",
    "http",
    "socket",
    "threading",
    "concurrent",
    "multiprocessing",
    "asyncio",
    "sync",
    "kiosk.services",
    "kiosk.core",
    "kiosk.info",
    "kiosk.checkin",
    "kiosk.walkins",
    "kiosk.waiting",
    "kiosk.questions",
    "kiosk.feedback",
    "kiosk.staff",
    "kiosk.status",
    "kiosk.db",
    "kiosk.models",
    "kiosk.store",
    "kiosk.syncing",
    "kiosk.purge",
    "kiosk.state",
}


def imported_modules(path: Path) -> set[str]:
    """Return every module a Python file imports (at any level of the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_kiosk_core_and_sync_import_without_kivy() -> None:
    modules = [f"sync.{p.stem}" for p in sorted((ROOT / "sync").glob("*.py"))]
    modules += [
        f"kiosk.{p.stem}"
        for p in sorted((ROOT / "kiosk").glob("*.py"))
        if p.stem not in ("app", "__main__")
    ]
    assert "kiosk.syncing" in modules and "sync.worker" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'kivy', 'screens', 'clinic'})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "screens").glob("*.py")), ids=lambda p: p.name)
def test_screens_have_no_storage_network_or_threads(path: Path) -> None:
    found = {
        name
        for name in imported_modules(path)
        for bad in FORBIDDEN_IN_SCREENS
        if name == bad or name.startswith(bad + ".")
    }
    assert not found, f"{path.name} imports {sorted(found)}"


def test_sync_imports_only_the_protocol_side() -> None:
    for path in sorted((ROOT / "sync").glob("*.py")):
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & {"kivy", "kiosk", "screens", "clinic"}, path.name


def test_a_failed_statement_does_not_carry_patient_data(kiosk) -> None:
    with pytest.raises(Exception) as failure, kiosk.db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "Zelda Quistgaard"}
        )
    assert "Zelda" not in str(failure.value) and "Quistgaard" not in repr(failure.value)
