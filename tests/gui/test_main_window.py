"""The window, driven through real widgets and events (offscreen Qt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from mgr_desktop.gui.file_table import DONE, FAILED, WAITING
from tests.helpers import tone, write


def drop(window, paths: list[Path]) -> None:
    """A real drag and drop: enter, move and drop events with file URLs, sent to the window."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    rest = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(QPoint(40, 40), *rest)  # drag events take QPoint, drops QPointF
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    QApplication.sendEvent(window, QDragMoveEvent(QPoint(40, 40), *rest))
    event = QDropEvent(QPointF(40, 40), *rest)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def statuses(window) -> dict[str, str]:
    return {Path(r.path).name: r.status for r in window.files.model.rows}


@pytest.fixture
def audio(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "music"
    files = {
        "a": write(d / "a.wav", tone(4.0, 22050, 220), 22050),
        "b": write(d / "sub" / "b.flac", tone(5.0, 44100, 440, channels=2), 44100),
        "c": write(d / "sub" / "deeper" / "c.ogg", tone(3.5, 22050, 880), 22050),
    }
    bad = d / "broken.mp3"
    bad.write_text("this is not an mp3")
    files["bad"] = bad
    return files


def test_no_model_offers_train_and_open_and_still_shows_audio(window, audio, qtbot) -> None:
    assert window.engine is None
    assert window.empty_state.isVisible()
    texts = {b.text() for b in window.empty_state.findChildren(type(window.files.add_files))}
    assert {"Train a model…", "Open model…"} <= texts
    drop(window, [audio["a"]])
    assert statuses(window) == {"a.wav": WAITING}
    # the spectrogram and playback work without a model
    qtbot.waitUntil(lambda: window.files.current_db is not None, timeout=20000)
    assert window.files.play_button.isEnabled()
    assert window.files.spectrogram.image.image.shape[0] == 128
    train_button = next(
        b
        for b in window.empty_state.findChildren(type(window.files.add_files))
        if b.text() == "Train a model…"
    )
    qtbot.mouseClick(train_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.train_tab


def test_dropping_files_and_folders_fills_the_table_with_results(
    window, audio, cnn_model, qtbot
) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    assert not window.empty_state.isVisible()
    drop(window, [audio["a"], audio["a"].parent / "sub", audio["bad"]])
    # (a folder is searched off the GUI thread: its files are listed once it has been)
    qtbot.waitUntil(
        lambda: (
            len(statuses(window)) == 4
            and all(s in (DONE, FAILED) for s in statuses(window).values())
        ),
        timeout=60000,
    )
    assert statuses(window) == {"a.wav": DONE, "b.flac": DONE, "c.ogg": DONE, "broken.mp3": FAILED}
    bad_row = window.files.model.row_for(str(audio["bad"]))
    assert bad_row.error == "not audio: the file is text"
    table = window.files.model
    row = next(i for i, r in enumerate(table.rows) if r.path.endswith("b.flac"))
    assert table.index(row, 1).data().rstrip("?") in window.engine.labels  # "?": uncertain
    assert table.index(row, 4).data() == DONE
    # selecting a file shows its verdict, top 3 and a timeline of 3 s windows
    window.files.table.selectRow(row)
    qtbot.waitUntil(lambda: window.files.current_db is not None, timeout=20000)
    result = table.rows[row].result
    if result.uncertain:  # a barely trained model: the two leading genres, marked uncertain
        (g1, _), (g2, _) = result.top(2)
        assert window.files.readout.genre.text() == f"{g1} or {g2}?"
        assert "uncertain" in window.files.readout.confidence.text()
    else:
        assert window.files.readout.genre.text() == result.genre
        assert "then" in window.files.readout.confidence.text()
    assert len(window.files.timeline.segments) == len(table.rows[row].result.segments) >= 2


def test_switching_models_reanalyses_with_the_new_labels(
    window, audio, cnn_model, second_model, qtbot
) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [audio["a"]])
    qtbot.waitUntil(lambda: statuses(window)["a.wav"] == DONE, timeout=30000)
    window.use_model(str(second_model))
    qtbot.waitUntil(
        lambda: window.engine is not None and window.engine.path == second_model, timeout=30000
    )
    qtbot.waitUntil(
        lambda: (
            (r := window.files.model.rows[0].result) is not None
            and set(r.probabilities) == {"ambient", "drill", "gqom"}
        ),
        timeout=30000,
    )
    from mgr_desktop.device import describe

    # whatever this machine computes on: "CPU", "CUDA (<GPU name>)" or "MPS (Apple GPU)"
    assert "3 genres" in window.model_info.text()
    assert window.model_info.text().endswith(f" · {describe(window.engine.device)}")
    assert window.picker.currentData() == str(second_model)
    assert set(window.picker.paths()) >= {str(cnn_model), str(second_model)}


def test_a_refused_model_file_is_reported_and_the_app_keeps_working(
    window, tmp_path, qtbot, monkeypatch
) -> None:
    import torch

    from mgr_desktop.gui import main_window

    shown: list[str] = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    torch.save({"weights": 1}, tmp_path / "model.pt")
    window.use_model(str(tmp_path / "model.pt"))
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "pickle" in shown[0] and str(tmp_path / "model.pt") in shown[0]
    assert window.engine is None and window.empty_state.isVisible()


def test_export_csv(window, audio, cnn_model, qtbot, tmp_path) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [audio["a"], audio["bad"]])
    qtbot.waitUntil(lambda: set(statuses(window).values()) == {DONE, FAILED}, timeout=30000)
    out = tmp_path / "out.csv"
    window.files.model.export_csv(str(out))
    lines = out.read_text().splitlines()
    assert lines[0].startswith("path,genre,confidence,duration,p_blues")
    assert len(lines) == 3 and lines[2].endswith("not audio: the file is text")


def test_settings_are_remembered(app_home, qtbot) -> None:
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Key, Settings

    w = MainWindow(Settings())
    qtbot.addWidget(w)
    w.show()
    w.resize(700, 520)  # the offscreen screen is 800 x 600
    w.set_colormap("viridis")
    w.set_db_range(-70, 10)
    w.tabs.setCurrentIndex(1)
    w.close()
    again = MainWindow(Settings())
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (700, 520)
    assert again.settings.get(Key.COLORMAP) == "viridis"
    assert again.files.spectrogram.levels == (-70.0, 10.0)
    assert again.tabs.currentIndex() == 1
    again.close()


def test_the_view_menu_applies_the_entry_chosen(window) -> None:
    """Each View menu entry passes its own values (not triggered's `checked` argument)."""
    from PySide6.QtWidgets import QMenu

    from mgr_desktop.gui.settings import Key

    menus = {m.title(): m for m in window.menuBar().findChildren(QMenu)}

    def choose(menu: str, entry: str) -> None:
        next(a for a in menus[menu].actions() if a.text() == entry).trigger()

    choose("Colour map", "viridis")
    assert window.settings.get(Key.COLORMAP) == "viridis"
    choose("dB range", "-70 to 10 dB")
    assert window.files.spectrogram.levels == (-70.0, 10.0)
    assert window.listen.spectrogram.levels == (-70.0, 10.0)


def test_ctrl_q_quits_and_ctrl_l_goes_to_listening(window, qtbot, monkeypatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(window.listen, "toggle", lambda: started.append(True))
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.listen and started == [True]
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert not window.file_thread.isRunning() and not window.live_thread.isRunning()


def test_window_appears_before_torch_is_imported(app_home, cnn_model) -> None:
    """Through the real entry point, with a remembered model to list beside the shipped one:
    the window is shown before torch is imported; torch then loads on the worker."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from mgr_desktop.gui import main_window\n"
        "from mgr_desktop.gui.settings import Key, Settings\n"
        "Settings().set(Key.KNOWN_MODELS, [sys.argv[1]])\n"
        "show = main_window.MainWindow.show\n"
        "def shown(w):\n"
        "    show(w)\n"
        "    print('torch' in sys.modules, w.isVisible(), w.picker.count(), flush=True)\n"
        "    def check():\n"
        "        if w.backend_ready:\n"
        "            w._t.stop()  # close() may take a while (threads finishing start-up)\n"
        "            print('torch' in sys.modules, flush=True); w.close()\n"
        "    w._t = QTimer(); w._t.timeout.connect(check); w._t.start(20)\n"
        "main_window.MainWindow.show = shown\n"
        "from mgr_desktop.cli import main\n"
        "sys.exit(main(['gui']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(cnn_model)], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True", "2", "True"], out.stderr


def test_a_new_user_gets_the_shipped_model_ready_to_classify(default_window, audio, qtbot) -> None:
    from mgr_desktop.paths import default_model_path

    w = default_window
    qtbot.waitUntil(lambda: w.engine is not None, timeout=60000)
    assert str(w.engine.path) == str(default_model_path())
    assert not w.empty_state.isVisible()
    assert str(default_model_path()) in w.picker.paths()
    drop(w, [audio["b"]])
    qtbot.waitUntil(lambda: statuses(w)["b.flac"] == DONE, timeout=60000)
    w.files.table.selectRow(0)
    qtbot.waitUntil(lambda: w.files.current_db is not None, timeout=20000)
    # the verdict, and under it the model's music tags
    row = w.files.model.rows[0]
    assert row.result.genre in w.engine.labels and row.result.tags
    assert w.files.readout.genre.text().startswith(row.result.genre)
    assert " · ".join(row.result.tags) in w.files.readout.confidence.text()
