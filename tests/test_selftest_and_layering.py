from __future__ import annotations

import subprocess
import sys

from mgr_desktop import __version__


def test_self_test_passes_on_this_install() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "--self-test"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = proc.stdout.strip()
    assert "\n" not in line
    assert line.startswith(f"mgr-desktop {__version__} self-test: ok")
    for part in (
        "imports",
        "portaudio",
        "decode (4.0 s flac)",
        "mel (128x",
        "cnn",
        "resnet18",
        "window",
    ):
        assert part in line


def test_a_failing_check_fails_the_self_test(tmp_path) -> None:
    """Break the bundled clip: the summary names the failure and the exit status is 1."""
    code = (
        "import sys, pathlib\n"
        "from mgr_desktop import paths\n"
        f"paths.resource_path = lambda *p: pathlib.Path({str(tmp_path)!r}) / 'x.flac'\n"
        "from mgr_desktop.selftest import run_self_test\n"
        "sys.exit(run_self_test())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "self-test: FAILED" in proc.stdout and "decode FAILED" in proc.stdout


def test_nothing_below_gui_imports_qt() -> None:
    """audio, dsp, models, inference, train and the CLI work without Qt."""
    code = (
        "import importlib, pkgutil, sys, mgr_desktop\n"
        "for m in pkgutil.walk_packages(mgr_desktop.__path__, 'mgr_desktop.'):\n"
        "    if m.name.startswith('mgr_desktop.gui') or m.name.endswith(('__main__', 'selftest')):"
        "\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(k for k in sys.modules if k.startswith('PySide6')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# Modules outside gui/ that may start the window, importing it inside a function.
_STARTS_THE_WINDOW = {"selftest.py", "commands/gui.py"}


def test_no_module_outside_gui_imports_qt_by_reading_the_imports() -> None:
    """Every import statement, at any depth: Qt (PySide6, pyqtgraph) and the gui package are
    imported only under gui/ (and, lazily, by what starts the window)."""
    import ast
    from pathlib import Path

    import mgr_desktop

    root = Path(mgr_desktop.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("gui/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            for name in names:
                qt = name.split(".")[0] in ("PySide6", "pyqtgraph")
                gui = name.startswith("mgr_desktop.gui")
                if (qt or gui) and rel not in _STARTS_THE_WINDOW:
                    offenders.append(f"{rel}:{node.lineno} imports {name}")
    assert offenders == []
