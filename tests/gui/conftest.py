from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_model_file


@pytest.fixture
def window(qtbot, app_home: Path) -> Iterator[object]:
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    w = MainWindow(Settings(), default_model="")  # most tests start with no model at all
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.backend_ready, timeout=60000)
    yield w
    if w.isVisible():
        w.close()


@pytest.fixture
def second_model(tmp_path: Path) -> Path:
    return make_model_file(
        tmp_path / "three-genres.safetensors", labels=("ambient", "drill", "gqom")
    )


@pytest.fixture
def default_window(qtbot, app_home: Path) -> Iterator[object]:
    """The window as a new user first sees it: the shipped model loads by itself."""
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    w = MainWindow(Settings())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.backend_ready, timeout=60000)
    yield w
    if w.isVisible():
        w.close()
