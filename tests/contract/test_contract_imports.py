"""The import contract: layers point one way and no module imports itself through others.

Read from the source (tests/contract/import_graph.py), so lazy imports inside functions,
imports under TYPE_CHECKING and modules named in import tables count like any other.

    screens -> kiosk -> sync          (kiosk.app composes the screens; nothing else does)
    clinic  -> sync.protocol, sync.rules, sync.sqltypes only
                                      (the server never imports kiosk or screens code)
    clinic.followup -/-> clinic.dashboard
"""

from __future__ import annotations

from collections.abc import Callable

import import_graph as ig
import pytest

EDGES = ig.graph()
IMPORTS = ig.all_imports()

#: The kiosk modules that run the Kivy app (the rest of kiosk/ must import without Kivy).
#: kiosk.selftest drives the running app's event loop and imports Kivy inside its functions.
KIOSK_APP_MODULES = {"kiosk.app", "kiosk.__main__", "kiosk.selftest"}
#: What the server may import of sync: the wire protocol and the rules and column types both
#: ends share (docs/decisions/0009-shared-rules.md); never the kiosk's outbox or worker.
SHARED_WITH_SERVER = ("sync", "sync.protocol", "sync.rules", "sync.sqltypes")


def _modules(prefix: str) -> list[str]:
    return sorted(m for m in EDGES if ig.within(m, [prefix]))


def _bad_edges(sources: list[str], allowed: Callable[[str, str], bool]) -> list[str]:
    return [f"{m} -> {t}" for m in sources for t in sorted(EDGES[m]) if not allowed(m, t)]


def test_the_graph_sees_lazy_and_table_imports() -> None:
    # Guards the reader itself: kiosk.app names its screens in a table, services imports the
    # demo inside a function. If these edges vanished, the checks below would prove nothing.
    assert "screens.welcome" in EDGES["kiosk.app"]
    assert "kiosk.demo" in EDGES["kiosk.services"]
    assert len(EDGES) > 80


def test_no_import_cycles() -> None:
    assert ig.cycles(EDGES) == []


def test_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert ig.cycles(edges) == [["a", "b", "c"]]


def test_screens_use_the_kiosk_core_never_the_app_or_sync() -> None:
    def allowed(_src: str, dst: str) -> bool:
        if ig.within(dst, ["kiosk.app", "sync", "clinic"]):
            return False
        return ig.within(dst, ["screens", "kiosk"])

    assert _bad_edges(_modules("screens"), allowed) == []


def test_kiosk_core_never_imports_screens_or_the_app() -> None:
    core = [m for m in _modules("kiosk") if m not in KIOSK_APP_MODULES]

    def allowed(_src: str, dst: str) -> bool:
        return dst not in KIOSK_APP_MODULES and ig.within(dst, ["kiosk", "sync"])

    assert _bad_edges(core, allowed) == []


def test_sync_imports_nothing_of_the_kiosk_or_the_server() -> None:
    assert _bad_edges(_modules("sync"), lambda _s, d: ig.within(d, ["sync"])) == []


def test_server_uses_only_the_wire_protocol_of_sync() -> None:
    def allowed(_src: str, dst: str) -> bool:
        if ig.within(dst, ["kiosk", "screens"]):
            return False
        return not ig.within(dst, ["sync"]) or dst in SHARED_WITH_SERVER

    assert _bad_edges(_modules("clinic"), allowed) == []


def test_what_the_server_shares_reaches_nothing_else_of_sync() -> None:
    # Otherwise the server would import the outbox or worker through a shared module.
    for module in SHARED_WITH_SERVER:
        assert module in EDGES, module
        reached = ig.reachable(EDGES, module)
        assert not [m for m in reached if m not in SHARED_WITH_SERVER], module


def test_follow_up_page_is_independent_of_the_dashboard() -> None:
    for module in _modules("clinic.followup"):
        reached = ig.reachable(EDGES, module)
        assert not [m for m in reached if ig.within(m, ["clinic.dashboard"])], module


@pytest.mark.parametrize(
    "module",
    [m for m in _modules("kiosk") + _modules("sync") if m not in KIOSK_APP_MODULES],
)
def test_kiosk_core_and_sync_never_import_kivy(module: str) -> None:
    # Transitively: a core module reaching an app module would also be caught here.
    for dep in sorted({module} | ig.reachable(EDGES, module)):
        assert dep not in KIOSK_APP_MODULES, f"{module} reaches {dep}"
        kivy = sorted(n for n in IMPORTS[dep] if n.split(".")[0] == "kivy")
        assert not kivy, f"{module} reaches {dep}, which imports {kivy}"
