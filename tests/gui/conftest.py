from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_model_file


def _never_ask(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Before pytest-qt closes the window after a test: a test that failed midway (a training
    still running, say) must not leave closing to a modal question nobody answers, which
    would hang the whole run instead of failing one test."""

    def answer_yes(_widget: object) -> None:
        from PySide6.QtWidgets import QMessageBox

        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)

    return answer_yes


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch, qtbot, app_home: Path) -> Iterator[object]:
    yield from _open_window(monkeypatch, qtbot, default_model="")  # most tests: no model


@pytest.fixture
def second_model(tmp_path: Path) -> Path:
    return make_model_file(
        tmp_path / "three-genres.safetensors", labels=("ambient", "drill", "gqom")
    )


@pytest.fixture
def default_window(monkeypatch: pytest.MonkeyPatch, qtbot, app_home: Path) -> Iterator[object]:
    """The window as a new user first sees it: the shipped model loads by itself."""
    yield from _open_window(monkeypatch, qtbot)


def _open_window(monkeypatch: pytest.MonkeyPatch, qtbot, **kw: object) -> Iterator[object]:
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    w = MainWindow(Settings(), **kw)
    qtbot.addWidget(w, before_close_func=_never_ask(monkeypatch))
    w.show()
    qtbot.waitUntil(lambda: w.backend_ready, timeout=60000)
    yield w
    if w.isVisible():
        w.close()
