"""The window's file dialogs (answered by hand: QFileDialog's static methods are replaced),
the model it remembers between sessions, and seeking by clicking the segment timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from mgr_desktop.gui.file_table import DONE
from tests.helpers import tone, write


class Dialogs:
    """Stands in for QFileDialog: records what the window asked, answers what the test set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[tuple[str, tuple]] = []
        self.answer: object = None
        for name in ("getOpenFileNames", "getOpenFileName", "getExistingDirectory",
                     "getSaveFileName"):  # fmt: skip
            monkeypatch.setattr(QFileDialog, name, self._stand_in(name))

    def _stand_in(self, name: str):  # type: ignore[no-untyped-def]
        def ask(*args: object, **kwargs: object) -> object:
            self.asked.append((name, args[1:]))  # without the parent widget
            return self.answer

        return ask


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    return Dialogs(monkeypatch)


@pytest.fixture
def music(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    write(folder / "a.wav", tone(4.0, 22050, 220), 22050)
    write(folder / "deeper" / "b.flac", tone(5.0, 22050, 440), 22050)
    return folder


def _paths(window) -> set[str]:
    return {Path(r.path).name for r in window.files.model.rows}


def test_open_files_adds_them_and_remembers_the_folder(window, dialogs, music, qtbot) -> None:
    from mgr_desktop.gui.settings import Key

    dialogs.answer = ([str(music / "a.wav")], "")
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert dialogs.asked[0][0] == "getOpenFileNames"
    assert _paths(window) == {"a.wav"}
    assert window.settings.get(Key.LAST_DIR) == str(music)
    dialogs.answer = ([], "")  # cancelled
    window.open_files_dialog()
    assert dialogs.asked[1][1][1] == str(music)  # the dialog opens where the last one left
    assert _paths(window) == {"a.wav"}


def test_open_folder_adds_everything_under_it(window, dialogs, music, qtbot) -> None:
    dialogs.answer = str(music)
    qtbot.keyClick(
        window,
        Qt.Key.Key_O,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert [name for name, _ in dialogs.asked] == ["getExistingDirectory"]
    qtbot.waitUntil(lambda: _paths(window) == {"a.wav", "b.flac"}, timeout=20000)
    dialogs.answer = ""  # cancelled
    window.open_folder_dialog()
    assert _paths(window) == {"a.wav", "b.flac"}


def test_open_model_uses_it_and_a_cancel_changes_nothing(window, dialogs, cnn_model, qtbot) -> None:
    dialogs.answer = ("", "")
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert dialogs.asked[0][0] == "getOpenFileName" and window.engine is None
    dialogs.answer = (str(cnn_model), "")
    window.open_model_dialog()
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    assert Path(window.engine.path) == cnn_model


def test_export_writes_the_csv_where_the_user_said(
    window, dialogs, music, cnn_model, qtbot, tmp_path
) -> None:
    window.export_csv()  # nothing to export: no dialog, a message instead
    assert dialogs.asked == [] and "Nothing to export" in window.statusBar().currentMessage()
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    window.add_paths([str(music / "a.wav")])
    qtbot.waitUntil(lambda: window.files.model.rows[0].status == DONE, timeout=30000)
    out = tmp_path / "results.csv"
    dialogs.answer = (str(out), "CSV (*.csv)")
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert dialogs.asked[-1][0] == "getSaveFileName"
    lines = out.read_text().splitlines()
    assert lines[0].startswith("path,genre,confidence") and len(lines) == 2
    assert lines[1].startswith(str(music / "a.wav"))
    assert window.statusBar().currentMessage() == f"Saved {out}"


def test_export_to_a_place_that_cannot_be_written_says_so(
    window, dialogs, music, qtbot, tmp_path, monkeypatch
) -> None:
    window.add_paths([str(music / "a.wav")])
    qtbot.waitUntil(lambda: window.files.file_count() == 1, timeout=20000)
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" / "results.csv"  # its "folder" is a file (root can write all)
    dialogs.answer = (str(target), "")
    window.export_csv()
    assert not target.exists()
    assert len(warnings) == 1 and warnings[0].startswith(f"Cannot write {target}: ")


def test_the_last_model_is_remembered_for_the_next_session(app_home, cnn_model, qtbot) -> None:
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    first = MainWindow(Settings(), default_model="")
    qtbot.addWidget(first)
    first.show()
    qtbot.waitUntil(lambda: first.backend_ready, timeout=60000)
    assert first.engine is None
    first.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: first.engine is not None, timeout=30000)
    first.close()
    again = MainWindow(Settings(), default_model="")
    qtbot.addWidget(again)
    again.show()
    try:
        qtbot.waitUntil(lambda: again.engine is not None, timeout=60000)
        assert Path(again.engine.path) == cnn_model
        assert again.picker.currentData() == str(cnn_model)
    finally:
        again.close()


def test_clicking_the_timeline_seeks_there(window, cnn_model, tmp_path, qtbot) -> None:
    song = write(tmp_path / "song.wav", tone(12.0, 22050, 330), 22050)
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    window.add_paths([str(song)])
    files = window.files
    qtbot.waitUntil(lambda: bool(files.model.rows) and files.model.rows[0].status == DONE,
                    timeout=30000)  # fmt: skip
    files.table.selectRow(0)
    timeline = files.timeline
    qtbot.waitUntil(lambda: timeline.duration > 0 and files.player.loaded, timeout=30000)
    assert files.player.position == 0
    x = timeline.width() * 3 // 4
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, timeline.height() // 2))
    expected = x / timeline.width() * timeline.duration  # 9 s into the 12 s song
    assert files.player.position == pytest.approx(expected, abs=0.05)
    assert timeline.position == pytest.approx(expected, abs=0.05)
    assert not files.player.playing  # seeking does not start playback
