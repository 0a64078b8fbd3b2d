"""The window survives any models folder, any remembered model, and a worker that hangs on quit
(issue 13). The real window, offscreen."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from mgr_desktop.gui.file_table import FileTableModel
from tests.helpers import make_model_file
from tests.models.test_hostile_models import _base, make_hostile

HOSTILE = [
    "arch-list",
    "arch-dict",
    "metadata-json-list",
    "nested-100000-training",
    "training-accuracy-text",
    "format-version-true",
    "label-newline-escape",
    "label-10MB",
    "dtype-I8",
    "pickle-torch-save",
    "truncated",
    "dangling-symlink",
    "symlink-loop",
    "self-symlink",
    "dev-zero",
    "fifo",  # skipped unopened
    "folder",  # skipped
    "weights-nan",  # metadata fine: listed, refused when loaded
]


@pytest.fixture
def models_folder(app_home: Path) -> dict[str, Path]:
    from mgr_desktop.paths import models_dir

    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    base = _base()
    files = {case: make_hostile(base, folder, case) for case in HOSTILE}
    files["good"] = make_model_file(folder / "good.safetensors", "cnn")
    return files


@pytest.fixture
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Message boxes recorded instead of shown (a modal box would wait for a click)."""
    from mgr_desktop.gui import main_window

    shown: list[str] = []
    monkeypatch.setattr(
        main_window.QMessageBox, "warning", lambda parent, title, text: shown.append(text)
    )
    return shown


def _start(qtbot, remembered: str | None = None, known: list[str] | None = None) -> object:
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Key, Settings

    settings = Settings()
    if remembered:
        settings.set(Key.ACTIVE_MODEL, remembered)
    if known:
        settings.set(Key.KNOWN_MODELS, known)
    w = MainWindow(settings, default_model="")  # only the models these tests put there
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.backend_ready, timeout=60000)
    return w


@pytest.fixture
def started(qtbot, models_folder, warnings_shown) -> Iterator[object]:
    bad = models_folder["weights-nan"]
    gone = str(models_folder["good"].parent / "deleted since.safetensors")
    w = _start(qtbot, remembered=str(bad), known=[str(bad), gone, str(models_folder["fifo"])])
    yield w
    if w.isVisible():
        w.close()


def test_the_window_starts_with_a_hostile_models_folder_and_lists_the_good_model(
    started, models_folder: dict[str, Path]
) -> None:
    picker = started.picker
    listed = {Path(p).name: i for i, p in enumerate(picker.paths())}
    good = listed["good.safetensors"]
    assert picker.is_usable(good)
    assert "good" in picker.itemText(good)
    # never opened, never listed: a FIFO would block, a folder is not a file
    assert "fifo.safetensors" not in listed and "folder.safetensors" not in listed
    unusable = {name for name, i in listed.items() if not picker.is_usable(i)}
    expected = {f"{c}.safetensors" for c in HOSTILE} - {
        "fifo.safetensors",
        "folder.safetensors",
        "weights-nan.safetensors",
    }
    assert unusable == expected
    for name in unusable:
        text = picker.itemText(listed[name])
        assert "(unusable: " in text and "\n" not in text and "\x1b" not in text
        assert not picker.model().item(listed[name]).flags() & Qt.ItemFlag.ItemIsEnabled


def test_a_remembered_model_that_went_bad_leaves_no_model_and_a_message(
    started, models_folder: dict[str, Path], warnings_shown: list[str], qtbot
) -> None:
    from mgr_desktop.gui.settings import Key

    qtbot.waitUntil(lambda: bool(warnings_shown), timeout=30000)
    assert started.engine is None and started.empty_state.isVisible()
    assert "weights-nan.safetensors" in warnings_shown[0] and "NaN" in warnings_shown[0]
    assert started.settings.get(Key.ACTIVE_MODEL) == ""
    # and the good one still loads afterwards
    started.use_model(str(models_folder["good"]))
    qtbot.waitUntil(lambda: started.engine is not None, timeout=30000)
    assert started.picker.currentData() == str(models_folder["good"])


def test_choosing_an_unusable_entry_does_nothing(started, models_folder, qtbot) -> None:
    picker = started.picker
    chosen: list[str] = []
    picker.model_chosen.connect(chosen.append)
    i = picker.paths().index(str(models_folder["arch-list"]))
    picker.activated.emit(i)
    assert chosen == []


def test_a_worker_that_does_not_stop_on_quit_is_logged_not_an_abort(
    window, qtbot, caplog: pytest.LogCaptureFixture
) -> None:
    from mgr_desktop.gui import thread_shutdown

    started, release = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(30)

    window.THREAD_STOP_MS = 200
    QTimer.singleShot(0, window.file_worker, functools.partial(stuck))
    assert started.wait(10)
    with caplog.at_level(logging.ERROR):
        window.close()
    assert "file-worker thread did not stop" in caplog.text
    assert window.file_thread in thread_shutdown._abandoned
    release.set()
    assert window.file_thread.wait(10000)
    thread_shutdown._exit_if_stuck()  # nothing is running any more: returns, no exit


def test_csv_export_cannot_start_a_formula(tmp_path: Path) -> None:
    from mgr_desktop.inference.engine import TrackResult

    model = FileTableModel()
    model.add(["=cmd|' /C calc'!A3.wav", "+1.wav", "plain.wav"])
    labels = ["@SUM(A1)", "-2", "rock"]
    result = TrackResult("=x.wav", labels[0], 0.6, {"@SUM(A1)": 0.6, "-2": 0.3, "rock": 0.1}, [], 3)
    for row in model.rows:
        row.result = result
    model.rows[2].error = "=bad"
    import csv
    import io

    cells = [c for row in csv.reader(io.StringIO(model.to_csv())) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert "'=cmd|' /C calc'!A3.wav" in cells and "'@SUM(A1)" in cells
