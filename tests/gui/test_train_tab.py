"""The training tab end to end: a spawned training process, driven through the widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mgr_desktop.gui.file_table import DONE
from tests.gui.test_main_window import drop


@pytest.fixture
def tab(window, small_corpus, qtbot):
    t = window.train_tab
    window.tabs.setCurrentWidget(t)
    t.set_data_folder(str(small_corpus))
    qtbot.waitUntil(lambda: t.report is not None, timeout=30000)
    t.batch.setValue(4)
    t.arch.setCurrentIndex(t.arch.findData("cnn"))  # these tests are about the loop's mechanics
    return t


def test_architectures_come_from_the_registry_and_transfer_is_the_default(
    window, monkeypatch
) -> None:
    from mgr_desktop.gui.train_tab import TrainTab
    from mgr_desktop.models import registry

    tab = window.train_tab
    names = [tab.arch.itemData(i) for i in range(tab.arch.count())]
    assert names == list(registry.ARCHITECTURES)
    assert tab.arch.currentData() == registry.DEFAULT_ARCH == "musicnn_msd"
    assert tab.fine_tune.isEnabled() and not tab.fine_tune.isChecked()
    assert tab.config().arch == "musicnn_msd" and tab.config().probe
    tab.arch.setCurrentIndex(tab.arch.findData("cnn"))
    assert not tab.fine_tune.isEnabled() and not tab.pretrained.isEnabled()
    assert tab.max_lr.text() == "0.003"
    # one registry entry is all a new architecture needs
    toy = registry.Architecture("toy", "Toy net for a test", registry.ARCHITECTURES["cnn"].build,
                                default_max_lr=0.042)  # fmt: skip
    monkeypatch.setitem(registry.ARCHITECTURES, "toy", toy)
    fresh = TrainTab(window.settings)
    fresh.arch.setCurrentIndex(fresh.arch.findData("toy"))
    assert fresh.arch.currentText() == "Toy net for a test" and fresh.max_lr.text() == "0.042"
    fresh.deleteLater()


def test_report_on_selection_and_bad_folders(tab, tmp_path, qtbot) -> None:
    assert "24 tracks in 4 genres" in tab.report_label.toPlainText()
    assert tab.start_button.isEnabled()
    tab.set_data_folder(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: "✗" in tab.report_label.toPlainText(), timeout=10000)
    assert "no such folder" in tab.report_label.toPlainText()
    assert not tab.start_button.isEnabled()
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "song.txt").write_text("x")
    tab.set_data_folder(str(tmp_path / "flat"))
    qtbot.waitUntil(lambda: "no genre folders" in tab.report_label.toPlainText(), timeout=10000)


def test_train_watch_and_use_the_model(window, tab, qtbot, tmp_path) -> None:
    from tests.helpers import tone, write

    tab.epochs.setValue(3)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.running and not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    qtbot.waitUntil(lambda: tab.files_bar.value() == tab.files_bar.maximum() > 0, timeout=60000)
    qtbot.waitUntil(lambda: len(tab.plots.history) >= 1, timeout=120000)
    assert tab.plots.lrs and tab.epoch_bar.value() >= 1
    assert "left" in tab.eta.text() or tab.state == "finished"
    qtbot.waitUntil(lambda: tab.state == "finished", timeout=180000)
    assert len(tab.plots.history) == 3
    matrix = tab.plots.confusion_matrix()
    assert matrix is not None and matrix.shape == (4, 4)
    assert "per-track accuracy" in tab.plots.scores.text()
    assert "per-window accuracy" in tab.plots.scores.text()
    assert tab.plots.per_class.rowCount() == 4
    # the model is in the models folder and in the picker at once
    assert tab.last_model and Path(tab.last_model).exists()
    assert tab.last_model in window.picker.paths()
    assert tab.use_button.isEnabled()
    qtbot.mouseClick(tab.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: window.engine is not None and str(window.engine.path) == tab.last_model,
        timeout=30000,
    )
    song = write(tmp_path / "song.wav", tone(4.0), 22050)
    drop(window, [song])
    qtbot.waitUntil(lambda: window.files.model.rows[0].status == DONE, timeout=30000)
    assert window.files.model.rows[0].result.genre in window.engine.labels
    # the run is listed and reopens with its plots
    assert tab.runs.count() == 1 and "finished" in tab.runs.item(0).text()
    tab.plots.clear()
    tab._run_selected(tab.runs.item(0))
    assert len(tab.plots.history) == 3 and tab.plots.confusion_matrix() is not None


def test_stop_in_the_middle_then_resume_to_completion(tab, qtbot) -> None:
    tab.epochs.setValue(6)
    tab.start()
    qtbot.waitUntil(lambda: len(tab.plots.history) >= 1, timeout=120000)
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.state == "stopped", timeout=60000)
    assert not tab.running and "Resume" in tab.stage.text()
    run = Path(tab.runs.currentItem().data(Qt.ItemDataRole.UserRole))
    assert (run / "last.safetensors").exists()
    assert tab.resume_button.isEnabled()
    qtbot.mouseClick(tab.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.state == "finished", timeout=180000)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 6
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4, 5, 6]


def test_closing_during_training_asks_and_keeps_the_checkpoint(
    window, tab, qtbot, monkeypatch
) -> None:
    tab.epochs.setValue(50)
    tab.start()
    qtbot.waitUntil(lambda: len(tab.plots.history) >= 1, timeout=120000)
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: next(answers))
    window.close()
    assert window.isVisible() and tab.running  # "No": keeps training
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60000)
    assert not tab.running
    run = max(Path(window.settings.q.fileName()).parent.glob("runs/*"))
    assert (run / "last.safetensors").exists()
