"""Every third-party package the app imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import tomllib

import mgr_desktop

ROOT = Path(mgr_desktop.__file__).parent
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"PySide6": "pyside6-essentials", "sklearn": "scikit-learn", "av": "av"}


def _imported_top_level_names() -> set[str]:
    names: set[str] = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    doc = tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    return {
        re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].strip().lower().replace("_", "-")
        for d in doc["project"]["dependencies"]
    }


def test_every_import_is_declared() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    third_party = _imported_top_level_names() - stdlib - {"mgr_desktop"}
    declared = _declared()
    missing = sorted(
        name for name in third_party
        if DISTRIBUTIONS.get(name, name).lower().replace("_", "-") not in declared
    )  # fmt: skip
    assert missing == [], f"imported but not declared in pyproject.toml: {missing}"
    assert {"torch", "numpy", "av", "PySide6"} <= third_party  # the scan does see imports


def test_every_declared_dependency_is_imported() -> None:
    """No dead weight in an install: a package only tests or benchmarks use goes in [dev]."""
    imported = {
        DISTRIBUTIONS.get(n, n).lower().replace("_", "-") for n in _imported_top_level_names()
    }
    unused = sorted(_declared() - imported)
    assert unused == [], f"declared in pyproject.toml but not imported by mgr_desktop: {unused}"
