"""Imports point down, read from the source: `gui -> inference/train -> models/dsp/audio ->
config` (ARCHITECTURE.md). What starts the window imports it only inside a function, so the
command line never loads Qt. (Qt staying inside gui/ is test_selftest_and_layering.py's.)"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import mgr_desktop

ROOT = Path(mgr_desktop.__file__).parent

# Lowest first. A module imports from its own package or from a lower layer only; the
# helpers at the bottom and the entry points at the top may also use one another.
LAYERS: list[set[str]] = [
    {"__init__", "config", "paths", "atomic", "safetext", "errors", "device", "logs", "verdict"},
    {"audio", "dsp", "models"},
    {"inference", "train"},
    {"__main__", "cli", "commands", "selftest"},  # entry points: may use one another
    {"gui"},
]
ENTRY_POINTS = LAYERS[3]
SHARED_WITHIN = (LAYERS[0], ENTRY_POINTS)
QT = ("PySide6", "shiboken6", "pyqtgraph")


def _unit(rel: str) -> str:
    """'train/loop.py' -> 'train'; 'cli.py' -> 'cli'."""
    return rel.split("/")[0].removesuffix(".py")


def _rank(unit: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    raise AssertionError(f"mgr_desktop/{unit} is in no layer: add it to LAYERS (and the picture)")


def _imports(rel: str, source: str) -> Iterator[tuple[int, str, bool]]:
    """(line, absolute module name, inside a function) for every import in the source of
    mgr_desktop/`rel`; relative imports are resolved."""
    package = ["mgr_desktop", *rel.split("/")[:-1]]

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[int, str, bool]]:
        for child in ast.iter_child_nodes(node):
            lazy = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name, in_function
            elif isinstance(child, ast.ImportFrom):
                base = package[: len(package) - child.level + 1] if child.level else []
                name = ".".join([*base, child.module] if child.module else base)
                yield child.lineno, name, in_function
            yield from visit(child, lazy)

    yield from visit(ast.parse(source), False)


def _sources() -> Iterator[tuple[str, str]]:
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def test_every_package_is_in_a_layer() -> None:
    for rel, _ in _sources():
        _rank(_unit(rel))


def test_imports_point_down() -> None:
    offenders = []
    for rel, source in _sources():
        unit = _unit(rel)
        for line, name, lazy in _imports(rel, source):
            if not name.startswith("mgr_desktop."):
                continue
            target = name.split(".")[1]
            if target == unit or _rank(target) < _rank(unit):
                continue
            if any(unit in layer and target in layer for layer in SHARED_WITHIN):
                continue
            if unit in ENTRY_POINTS and target == "gui" and lazy:
                continue  # starting the window, when asked to
            offenders.append(f"mgr_desktop/{rel}:{line} ({unit}) imports {name}")
    assert offenders == []


def test_the_command_line_loads_qt_only_to_open_the_window() -> None:
    """Entry points may reach Qt (directly or through gui/) only from inside a function."""
    offenders = [
        f"mgr_desktop/{rel}:{line} imports {name} at module level"
        for rel, source in _sources()
        if _unit(rel) in ENTRY_POINTS
        for line, name, lazy in _imports(rel, source)
        if not lazy and (name.split(".")[0] in QT or name.startswith("mgr_desktop.gui"))
    ]
    assert offenders == []


def test_the_reader_sees_what_it_must() -> None:
    """The checks above are only as good as the import reader: try it on known source."""
    code = (
        "from mgr_desktop.config import FeatureConfig\n"
        "from . import common\n"
        "from .. import paths\n"
        "import numpy as np, PySide6\n"
        "def run():\n"
        "    from mgr_desktop.gui.app import run_gui\n"
        "    class Later:\n"
        "        import pyqtgraph\n"
    )
    assert list(_imports("commands/probe.py", code)) == [
        (1, "mgr_desktop.config", False),
        (2, "mgr_desktop.commands", False),
        (3, "mgr_desktop", False),
        (4, "numpy", False),
        (4, "PySide6", False),
        (6, "mgr_desktop.gui.app", True),
        (8, "pyqtgraph", True),
    ]


def _module_name(rel: str) -> str:
    """'train/loop.py' -> 'mgr_desktop.train.loop'; 'gui/__init__.py' -> 'mgr_desktop.gui'."""
    return ".".join(["mgr_desktop", *rel.removesuffix(".py").split("/")]).removesuffix(".__init__")


def _runtime_imports(rel: str, source: str, modules: set[str]) -> set[str]:
    """The mgr_desktop modules `rel` imports when it runs, at module level or inside a
    function (`if TYPE_CHECKING:` blocks are for the type checker only); `from pkg import mod`
    counts as importing the module."""
    skip: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(n.lineno for b in node.body for n in ast.walk(b) if hasattr(n, "lineno"))
    tree = ast.parse(source)
    names: set[str] = set()
    for line, name, _ in _imports(rel, source):
        if line in skip:
            continue
        names.add(name)
    for node in ast.walk(tree):  # `from mgr_desktop.train import events` is the module
        if isinstance(node, ast.ImportFrom) and node.lineno not in skip and node.module:
            for alias in node.names:
                names.add(f"{node.module}.{alias.name}")
    return {n for n in names if n in modules} - {_module_name(rel)}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_module_imports_itself_round_a_circle() -> None:
    """Within a package too (the layer check above sees only packages): a circle hidden by
    imports inside functions still ties the modules into one."""
    sources = dict(_sources())
    modules = {_module_name(rel) for rel in sources}
    graph = {_module_name(rel): _runtime_imports(rel, src, modules) for rel, src in sources.items()}
    assert _cycles(graph) == []


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    code = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mgr_desktop import x\n"
    code += "def f():\n    from mgr_desktop.train import loop\n"
    mods = {"mgr_desktop.x", "mgr_desktop.train", "mgr_desktop.train.loop"}
    assert _runtime_imports("y.py", code, mods) == {"mgr_desktop.train", "mgr_desktop.train.loop"}
