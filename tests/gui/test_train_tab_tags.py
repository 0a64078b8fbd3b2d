"""The Train tab on a tagged library: the checkbox reads genres from the tags, the run trains
the transfer head by artist-disjoint split, and "Tag untagged files…" opens the write-tags
dialog on the new model's verdicts for exactly the untagged files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.train.tagged_library import small_library_songs, write_library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_library(tmp_path_factory.mktemp("library"), small_library_songs(), seed=5)


def _choose(tab, qtbot, folder: Path) -> None:
    tab.form.set_data_folder(str(folder))
    qtbot.waitUntil(lambda: tab.form.report is not None, timeout=30000)


def test_the_checkbox_reads_genres_from_tags_and_the_run_offers_to_tag_the_rest(
    window, library: Path, small_corpus: Path, qtbot, monkeypatch
) -> None:
    from mgr_desktop.gui.train_progress import EMBEDDING, FEATURES, TESTING, TRAINING

    tab = window.train_tab
    window.tabs.setCurrentWidget(tab)
    form = tab.form
    # a folder-per-genre corpus, as before: the folder names are the genres
    _choose(tab, qtbot, small_corpus)
    assert form.report.labels == ["blues", "classical", "country", "disco"]
    # a library's folders are artists, not genres; its tags name the genres once ticked
    _choose(tab, qtbot, library)
    assert "Inbox" in form.report.labels and "Hip-Hop Artist 1" in form.report.labels
    qtbot.mouseClick(form.labels_from_tags, Qt.MouseButton.LeftButton)
    assert form.labels_from_tags.isChecked() and form.report is None  # read again
    qtbot.waitUntil(lambda: form.report is not None, timeout=30000)
    shown = form.report_label.toPlainText()
    assert form.report.labels == ["Hip-Hop", "Jazz", "Rock"]
    assert "dropped, under 5 tracks or 2 artists: Polka: 1 tracks by 1 artists" in shown
    assert "untagged (no genre; not trained on): 3 files" in shown
    assert tab.start_button.isEnabled() and not tab.untagged.isVisible()

    form.split.setCurrentIndex(form.split.findData("fault-filtered"))  # GTZAN's: refused
    tab.start()
    assert not tab.running and "fault-filtered split is GTZAN's" in tab.error.text()
    form.split.setCurrentIndex(form.split.findData("random"))

    assert form.arch.currentData() == "musicnn_msd"  # the head on the frozen network
    form.epochs.setValue(8)
    form.batch.setValue(8)
    form.device.setCurrentIndex(form.device.findData("cpu"))
    steps: list[str] = []
    handle = tab.handle
    monkeypatch.setattr(tab, "handle", lambda e: (handle(e), steps.append(tab.progress.name)))
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.running and tab.job.labels_from_tags
    qtbot.waitUntil(lambda: tab.state in ("finished", "failed"), timeout=300000)
    assert tab.state == "finished", tab.error.text()
    # the head on the pretrained network embeds the tracks first: a step of its own
    assert [s for s in dict.fromkeys(steps) if s in (FEATURES, EMBEDDING, TRAINING, TESTING)] == [
        FEATURES, EMBEDDING, TRAINING, TESTING]  # fmt: skip
    run = Path(tab.job.out_dir)
    assert json.loads((run / "run.json").read_text())["labels_from_tags"] is True
    matrix = tab.plots.confusion_matrix()  # per genre, on artists never trained on
    assert matrix is not None and matrix.shape == (3, 3)
    assert tab.plots.per_class.rowCount() == 3
    split = json.loads((run / "metrics.json").read_text())["split"]
    assert not {Path(p).parent for p in split["train"]} & {Path(p).parent for p in split["test"]}

    panel = tab.untagged
    assert panel.isVisible() and panel.button.isEnabled()
    assert panel.label.text() == "3 files without a genre tag"
    untagged = sorted(str(p) for p in (library / "Inbox").iterdir())
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    assert not panel.button.isEnabled()  # busy classifying
    qtbot.waitUntil(lambda: panel.dialog is not None, timeout=120000)
    dialog = panel.dialog
    assert dialog.isVisible()
    assert sorted(item.path for item in dialog.items) == untagged
    assert all(item.genre in ("Hip-Hop", "Jazz", "Rock") for item in dialog.items)
    before = {p: Path(p).read_bytes() for p in untagged}
    dialog.reject()  # nothing is written unless the user presses Write
    assert {p: Path(p).read_bytes() for p in untagged} == before
    assert panel.button.isEnabled()

    # a run without tag labels offers nothing
    tab.runs.setCurrentRow(-1)
    tab._update_buttons()
    assert not panel.isVisible()
