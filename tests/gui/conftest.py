from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_model_file


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch, qtbot, app_home: Path) -> Iterator[object]:
    # monkeypatch first: its patches are undone after qtbot has closed the window
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    w = MainWindow(Settings(), default_model="")  # most tests start with no model at all
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.backend_ready, timeout=60000)
    yield w
    from PySide6.QtWidgets import QMessageBox

    # A test that failed midway (a training still running, say) must not leave closing to a
    # modal question nobody answers (here or in qtbot's own clean-up): it would hang the run.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    if w.isVisible():
        w.close()


@pytest.fixture
def second_model(tmp_path: Path) -> Path:
    return make_model_file(
        tmp_path / "three-genres.safetensors", labels=("ambient", "drill", "gqom")
    )


@pytest.fixture
def default_window(monkeypatch: pytest.MonkeyPatch, qtbot, app_home: Path) -> Iterator[object]:
    """The window as a new user first sees it: the shipped model loads by itself."""
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    w = MainWindow(Settings())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.backend_ready, timeout=60000)
    yield w
    from PySide6.QtWidgets import QMessageBox

    # A test that failed midway (a training still running, say) must not leave closing to a
    # modal question nobody answers (here or in qtbot's own clean-up): it would hang the run.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    if w.isVisible():
        w.close()
