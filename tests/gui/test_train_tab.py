"""The training tab end to end: a spawned training process, driven through the widgets."""

from __future__ import annotations

import itertools
import json
import os
import signal
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
    form = t.form
    form.set_data_folder(str(small_corpus))
    qtbot.waitUntil(lambda: form.report is not None, timeout=30000)
    form.batch.setValue(4)
    form.arch.setCurrentIndex(form.arch.findData("cnn"))  # these tests are about the loop
    yield t
    t.stop_and_wait(10)  # a test that failed midway leaves no training process behind


def test_architectures_come_from_the_registry_and_transfer_is_the_default(
    window, monkeypatch
) -> None:
    from mgr_desktop.gui.train_tab import TrainTab
    from mgr_desktop.models import registry

    tab = window.train_tab
    names = [tab.form.arch.itemData(i) for i in range(tab.form.arch.count())]
    assert names == list(registry.ARCHITECTURES)
    assert tab.form.arch.currentData() == registry.DEFAULT_ARCH == "musicnn_msd"
    assert tab.form.fine_tune.isEnabled() and not tab.form.fine_tune.isChecked()
    assert tab.form.config().arch == "musicnn_msd" and tab.form.config().probe
    tab.form.arch.setCurrentIndex(tab.form.arch.findData("cnn"))
    assert not tab.form.fine_tune.isEnabled() and not tab.form.pretrained.isEnabled()
    assert tab.form.max_lr.text() == "0.003"
    # one registry entry is all a new architecture needs
    toy = registry.Architecture("toy", "Toy net for a test", registry.ARCHITECTURES["cnn"].build,
                                default_max_lr=0.042)  # fmt: skip
    monkeypatch.setitem(registry.ARCHITECTURES, "toy", toy)
    fresh = TrainTab(window.settings)
    form = fresh.form
    form.arch.setCurrentIndex(form.arch.findData("toy"))
    assert form.arch.currentText() == "Toy net for a test" and form.max_lr.text() == "0.042"
    fresh.deleteLater()


def test_one_click_on_start_after_typing_a_folder_starts_the_run(
    window, small_corpus, qtbot, monkeypatch
) -> None:
    """Typed, not browsed: the folder is read when Start is pressed, and the run starts once
    it is (it took a second press). On the way: each step's name, its own steady total (a
    bar's total never changes within its step; none read "0/100" before its step) and the
    time left."""
    from mgr_desktop.gui.train_progress import FEATURES, STARTING, TESTING, TRAINING

    tab = window.train_tab
    window.tabs.setCurrentWidget(tab)
    form = tab.form
    form.arch.setCurrentIndex(form.arch.findData("cnn"))
    form.epochs.setValue(2)
    form.batch.setValue(4)
    seen: list[tuple] = []
    handle = tab.handle

    def watch(e) -> None:  # type: ignore[no-untyped-def]
        handle(e)
        p = tab.progress
        seen.append((p.name, p.step.text(), p.bar.maximum(), p.bar.value(),
                     p.batch_bar.maximum(), p.batch_bar.value(), p.time.text()))  # fmt: skip

    monkeypatch.setattr(tab, "handle", watch)
    window.activateWindow()
    form.folder.setFocus()
    qtbot.keyClicks(form.folder, str(small_corpus))
    assert form.report is None and tab.start_button.isEnabled()
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.running, timeout=30000)
    assert form.report is not None and form.report.root.is_relative_to(small_corpus)
    qtbot.waitUntil(lambda: tab.state == "finished", timeout=180000)

    steps = [name for name, _ in itertools.groupby(row[0] for row in seen) if name]
    assert steps == [STARTING, FEATURES, TRAINING, TESTING], steps
    steps.remove(STARTING)
    for name in steps:
        rows = [row for row in seen if row[0] == name]
        assert rows[0][1].startswith(f"Step {steps.index(name) + 1} of 3: {name}")
        assert len({row[2] for row in rows}) == 1  # one total for the whole step
        values = [row[3] for row in rows]
        assert values == sorted(values) and values[-1] <= rows[0][2]
    training = [row for row in seen if row[0] == TRAINING]
    assert training[0][2] == 2 and len({row[4] for row in training}) == 1
    assert any("elapsed" in row[6] and "left" in row[6] for row in training)
    assert tab.progress.time.text().endswith("in all")


def test_start_on_an_unreadable_typed_folder_says_why(window, tmp_path, qtbot) -> None:
    tab = window.train_tab
    qtbot.keyClicks(tab.form.folder, str(tmp_path / "nowhere"))
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.error.text() != "", timeout=10000)
    assert not tab.running and not tab.start_pending
    assert tab.error.text() == "Choose a readable genre folder first."
    assert "no such folder" in tab.form.report_label.toPlainText()
    assert not tab.start_button.isEnabled()  # until another folder is typed
    qtbot.keyClicks(tab.form.folder, "2")
    assert tab.start_button.isEnabled()


def test_report_on_selection_and_bad_folders(tab, tmp_path, qtbot) -> None:
    assert "24 tracks in 4 genres" in tab.form.report_label.toPlainText()
    assert tab.start_button.isEnabled()
    tab.form.set_data_folder(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: "✗" in tab.form.report_label.toPlainText(), timeout=10000)
    assert "no such folder" in tab.form.report_label.toPlainText()
    assert not tab.start_button.isEnabled()
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "song.txt").write_text("x")
    tab.form.set_data_folder(str(tmp_path / "flat"))
    qtbot.waitUntil(
        lambda: "no genre folders" in tab.form.report_label.toPlainText(), timeout=10000
    )


def test_train_watch_and_use_the_model(window, tab, qtbot, tmp_path) -> None:
    from tests.helpers import tone, write

    tab.form.epochs.setValue(3)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.running and not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    qtbot.waitUntil(lambda: len(tab.plots.history) >= 1, timeout=120000)
    assert tab.plots.lrs and tab.progress.bar.value() >= 1
    assert "left" in tab.progress.time.text() or tab.state == "finished"
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
    tab.form.epochs.setValue(6)
    tab.start()
    qtbot.waitUntil(lambda: len(tab.plots.history) >= 1, timeout=120000)
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.state == "stopped", timeout=60000)
    assert not tab.running and "Resume" in tab.stage.text()
    run = Path(tab.runs.currentItem().data(Qt.ItemDataRole.UserRole))
    assert (run / "last.safetensors").exists()
    assert tab.resume_button.isEnabled()
    batches_before = len(tab.plots.lrs)  # one learning rate plotted per batch trained
    per_epoch = tab.progress.batch_bar.maximum()
    stages: list[str] = []  # every text the stage line shows, including the resume message
    set_text = tab.stage.setText
    tab.stage.setText = lambda text: (stages.append(text), set_text(text))  # type: ignore[method-assign]
    qtbot.mouseClick(tab.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.state == "finished", timeout=180000)
    # it continued where it stopped (a run started over would say nothing of the kind)
    assert any(t.startswith("resumed from") for t in stages), stages
    # and trained only what was left: the batches before the stop and after the resume add up
    # to one uninterrupted run (6 epochs)
    assert batches_before + len(tab.plots.lrs) == 6 * per_epoch
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 6
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4, 5, 6]


def test_a_training_process_that_dies_is_reported_and_can_be_resumed(tab, qtbot) -> None:
    """Killed from outside (the out-of-memory killer, say): the tab says so, frees its buttons
    and lists the run, which resumes from its last checkpoint."""
    tab.form.epochs.setValue(20)
    tab.start()
    qtbot.waitUntil(lambda: len(tab.plots.history) >= 1, timeout=120000)
    out = Path(tab.job.out_dir)
    os.kill(tab.proc.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not tab.running, timeout=30000)
    assert tab.state == "failed"
    assert tab.error.text() == "The training process ended unexpectedly (exit code -9)."
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()
    assert (out / "last.safetensors").exists()
    listed = [tab.runs.item(i).data(Qt.ItemDataRole.UserRole) for i in range(tab.runs.count())]
    assert str(out) in listed
    tab.runs.setCurrentRow(listed.index(str(out)))
    assert tab.resume_button.isEnabled()


def test_a_failure_inside_the_training_process_shows_its_reason(tab, qtbot, tmp_path) -> None:
    import shutil

    folder = Path(shutil.copytree(tab.form.report.root, tmp_path / "corpus"))
    tab.form.set_data_folder(str(folder))
    qtbot.waitUntil(lambda: tab.form.report is not None, timeout=30000)
    shutil.rmtree(folder)  # gone between choosing it and starting
    tab.start()
    qtbot.waitUntil(lambda: not tab.running, timeout=60000)
    assert tab.state == "failed" and "no such folder" in tab.error.text()
    assert "unexpectedly" not in tab.error.text()
    assert tab.start_button.isEnabled()


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("max_lr", "fast", "could not convert string to float"),
        ("max_lr", "0", "max learning rate must be > 0"),
        ("weight_decay", "-0.1", "weight decay must be >= 0"),
        ("clip", "", "could not convert string to float"),
    ],
)
def test_invalid_settings_are_refused_before_anything_starts(
    tab, field: str, text: str, reason: str
) -> None:
    getattr(tab.form, field).setText(text)
    tab.start()
    assert not tab.running and tab.proc is None and tab.state == "idle"
    assert tab.error.text().startswith("Check the settings: ") and reason in tab.error.text()
    assert tab.start_button.isEnabled()


def test_a_kfold_run_shows_mean_and_std_and_is_listed_as_finished(tab, qtbot) -> None:
    """Two bugs of k-fold runs started here: no mean ± std was shown, and the finished run
    was listed as "(stopped)" (its metrics.json holds the summary, not a test of its own)."""
    tab.form.split.setCurrentIndex(tab.form.split.findData("kfold"))
    tab.form.folds.setValue(3)
    tab.form.epochs.setValue(1)
    tab.start()
    qtbot.waitUntil(lambda: tab.state == "finished", timeout=300000)
    shown = tab.plots.kfold.text()
    assert "3-fold" in shown and "per-track accuracy" in shown and "±" in shown
    item = tab.runs.currentItem()
    assert item.text().endswith("(finished)")
    assert tab.use_button.isEnabled() and not tab.resume_button.isEnabled()
    assert tab.last_model and Path(tab.last_model).exists()
    tab.plots.clear()  # selected later: read back from the run folder
    tab._run_selected(item)
    assert tab.plots.kfold.text() == shown
    assert len(tab.plots.history) == 1 and tab.plots.confusion_matrix() is not None


def test_closing_during_training_asks_and_keeps_the_checkpoint(
    window, tab, qtbot, monkeypatch
) -> None:
    tab.form.epochs.setValue(50)
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
