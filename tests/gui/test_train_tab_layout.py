"""The Train tab as a new user first sees it: every control in view at the default window
size, a confusion matrix whose genre names can be read, and progress that names its step,
keeps its totals and says how long is left (events fed in, a fake clock: no training)."""

from __future__ import annotations

import itertools

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QPushButton, QScrollArea, QWidget

from mgr_desktop.gui.train_progress import EMBEDDING, FEATURES, TESTING, TRAINING, TrainProgress
from mgr_desktop.train import events as ev

GTZAN = ["blues", "classical", "country", "disco", "hiphop",
         "jazz", "metal", "pop", "reggae", "rock"]  # fmt: skip


def _test_report(labels: list[str]) -> dict:
    n = len(labels)
    confusion = [[8 if i == j else (i + j) % 3 for j in range(n)] for i in range(n)]
    per_class = {lab: {"precision": 0.8, "recall": 0.7, "support": 10} for lab in labels}
    return {"labels": labels, "confusion": confusion, "tracks": 10 * n, "track_accuracy": 0.8,
            "segment_accuracy": 0.7, "windows": 100 * n, "macro_f1": 0.79,
            "per_class": per_class}  # fmt: skip


def _sized(window, qtbot, width: int, height: int):  # type: ignore[no-untyped-def]
    window.resize(width, height)
    window.tabs.setCurrentWidget(window.train_tab)
    qtbot.waitUntil(lambda: window.width() == width and window.height() == height)
    qtbot.wait(50)  # the layouts settle
    return window.train_tab


def _setup_column(tab: QWidget) -> QScrollArea:
    return next(s for s in tab.findChildren(QScrollArea) if s.isAncestorOf(tab.form))


def _button(tab: QWidget, text: str) -> QPushButton:
    return next(b for b in tab.findChildren(QPushButton) if b.text() == text)


def _controls(tab) -> dict[str, QWidget]:  # type: ignore[no-untyped-def]
    f = tab.form
    return {
        "data folder": f.folder, "Browse…": _button(tab, "Browse…"),
        "genres from tags": f.labels_from_tags, "architecture": f.arch,
        "pretrained": f.pretrained, "fine-tune": f.fine_tune, "split": f.split,
        "folds": f.folds, "epochs": f.epochs, "batch size": f.batch, "max lr": f.max_lr,
        "weight decay": f.weight_decay, "clip": f.clip, "device": f.device,
        "Start": tab.start_button, "Stop": tab.stop_button, "Resume": tab.resume_button,
        "runs": tab.runs, "Use this model": tab.use_button,
    }  # fmt: skip


def _outside(scroll: QScrollArea, controls: dict[str, QWidget]) -> list[str]:
    """The controls not wholly inside the column's viewport (hidden ones included)."""
    view = scroll.viewport()
    return [
        name for name, w in controls.items()
        if not w.isVisible() or not view.rect().contains(QRect(w.mapTo(view, QPoint()), w.size()))
    ]  # fmt: skip


def _training_events() -> list[ev.Event]:
    return [ev.DatasetFound("", {}), ev.CacheStarted(321), ev.CacheDone(321, 0, 0),
            ev.Message("embedding every segment with the frozen backbone"),
            ev.CacheStarted(321), ev.CacheProgress(10, 321, "a.wav"), ev.CacheDone(321, 0, 0),
            ev.EpochStarted(0, 30, 12), ev.BatchProgress(0, 3, 12, 1.0, 1e-3, 2.0)]  # fmt: skip


def test_every_control_is_in_view_at_the_default_size(window, qtbot) -> None:
    tab = _sized(window, qtbot, 1200, 780)
    scroll = _setup_column(tab)
    assert not scroll.horizontalScrollBar().isVisible()
    assert _outside(scroll, _controls(tab)) == []
    # a long path is shortened to its last folders, never pushing Browse… away
    tab.form.folder.setText("/home/someone/" + "a-long-folder-name/" * 8 + "genres_original")
    qtbot.wait(50)
    shown = tab.form.folder.shown_text()
    assert "…" in shown and shown.endswith("/genres_original") and len(shown) < 40
    # during a run the progress (step, two bars, time left) fits in as well
    tab.progress.begin(probe=True, folds=1)
    for e in _training_events():
        tab.handle(e)
    qtbot.wait(50)
    assert tab.progress.batch_bar.isVisible()
    assert not scroll.horizontalScrollBar().isVisible()
    assert _outside(scroll, {**_controls(tab), "progress": tab.progress}) == []


def test_the_column_never_scrolls_sideways_on_a_small_screen(window, qtbot) -> None:
    tab = _sized(window, qtbot, 1000, 700)
    scroll = _setup_column(tab)
    assert not scroll.horizontalScrollBar().isVisible()
    view = scroll.viewport()
    for name, w in _controls(tab).items():
        scroll.ensureWidgetVisible(w)  # down, if need be
        qtbot.wait(10)
        assert _outside(scroll, {name: w}) == [], name
    assert tab.plots.width() >= 450  # and the plots keep the rest
    assert view.width() >= tab.form.minimumSizeHint().width()


def test_the_empty_confusion_matrix_has_no_numeric_axes(window, qtbot) -> None:
    tab = _sized(window, qtbot, 1200, 780)
    plots = tab.plots
    for axis in plots.findChildren(pg.GraphicsView):
        for item in axis.items():
            if isinstance(item, pg.AxisItem):  # no "(x0.001)" scales on any plot
                assert not item.autoSIPrefix and "(x" not in item.labelString()
    assert plots.confusion_matrix() is None
    assert plots.confusion.label_rects() == []  # no names, no numbers: a placeholder
    plots.show_test(_test_report(GTZAN))
    plots.clear()
    assert plots.confusion.label_rects() == [] and plots.confusion_matrix() is None


@pytest.mark.parametrize("size", [(1200, 780), (1000, 700)])
def test_ten_genre_names_of_a_confusion_matrix_do_not_overlap(
    window, qtbot, size: tuple[int, int]
) -> None:
    tab = _sized(window, qtbot, *size)
    view = tab.plots.confusion
    tab.plots.show_test(_test_report(GTZAN))
    qtbot.wait(50)
    named = view.label_rects()
    assert [text for text, _ in named] == GTZAN + GTZAN  # every name, whole: rows then columns
    for group in (named[:10], named[10:]):
        for (a, ra), (b, rb) in itertools.combinations(group, 2):
            assert not ra.intersects(rb), f"{a} and {b} overlap"
    assert all(view.rect().toRectF().contains(r) for _, r in named)
    assert tab.plots.confusion_matrix().shape == (10, 10)


def test_many_genres_in_a_small_matrix_leave_names_out_rather_than_overlap(qtbot) -> None:
    from mgr_desktop.gui.confusion_view import ConfusionView

    view = ConfusionView()
    qtbot.addWidget(view)
    view.resize(260, 240)
    labels = [f"genre number {i}" for i in range(30)]
    view.set_matrix(labels, [[1] * 30 for _ in range(30)])
    named = view.label_rects()
    assert 0 < len(named) < 60
    for (a, ra), (b, rb) in itertools.combinations(named, 2):
        assert not ra.intersects(rb), f"{a} and {b} overlap"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_step_has_its_name_its_own_total_and_time_left(qtbot) -> None:
    """The probe's run: 321 tracks' features (cached: quick), then 321 embeddings at 1.4 s
    each (most of the run), then 30 epochs. Each is its own step."""
    clock = _Clock()
    p = TrainProgress(clock)
    qtbot.addWidget(p)
    p.begin(probe=True, folds=1)
    p.handle(ev.DatasetFound("", {}))
    p.handle(ev.CacheStarted(321))
    assert p.name == FEATURES and p.step.text() == "Step 1 of 4: Reading the audio features"
    assert (p.bar.maximum(), p.bar.value(), p.bar.text()) == (321, 0, "0 of 321 tracks")
    for done in range(1, 322):
        clock.now += 0.01
        p.handle(ev.CacheProgress(done, 321, f"{done}.wav"))
    p.handle(ev.CacheDone(321, 321, 0))
    p.handle(ev.CacheStarted(321))
    assert p.name == EMBEDDING and p.step.text() == "Step 2 of 4: Embedding the tracks"
    assert (p.bar.maximum(), p.bar.value()) == (321, 0)
    assert p.time.text() == "0:00 elapsed · estimating the time left"
    for done in range(1, 11):
        clock.now += 1.4
        p.handle(ev.CacheProgress(done, 321, f"{done}.wav"))
    assert p.bar.text() == "10 of 321 tracks"
    assert p.time.text() == "0:14 elapsed · about 7:15 left"  # 311 tracks at 1.4 s
    clock.now += 5  # between events the clock goes on
    p.tick()
    assert p.time.text() == "0:19 elapsed · about 7:10 left"
    p.handle(ev.CacheDone(321, 0, 0))
    p.handle(ev.EpochStarted(0, 30, 12))
    assert p.name == TRAINING and p.step.text() == "Step 3 of 4: Training"
    assert (p.bar.text(), p.batch_bar.text()) == ("epoch 1 of 30", "batch 0 of 12")
    clock.now += 3
    p.handle(ev.BatchProgress(0, 5, 12, 1.0, 1e-3, 3.0))  # 0.5 s a batch
    assert p.batch_bar.text() == "batch 6 of 12"
    assert p.time.text() == "0:03 elapsed · about 2:57 left"  # 354 batches to go
    p.handle(ev.EpochEnded(1, 30, 1.0, 1.0, 0.5, 0.5, 1e-3, 6.0, 1))
    p.handle(ev.EpochStarted(1, 30, 12))
    assert (p.bar.maximum(), p.bar.text(), p.batch_bar.maximum()) == (30, "epoch 2 of 30", 12)
    p.handle(ev.EpochEnded(30, 30, 1.0, 1.0, 0.5, 0.5, 1e-3, 6.0, 30))
    assert p.name == TESTING and p.step.text() == "Step 4 of 4: Testing and saving"
    p.finish()
    assert p.name == "" and p.time.text().endswith("in all")


def test_a_kfold_run_names_the_fold_and_a_new_step_clears_the_last_message(app_home, qtbot) -> None:
    from mgr_desktop.gui.settings import Settings
    from mgr_desktop.gui.train_tab import TrainTab

    tab = TrainTab(Settings())
    qtbot.addWidget(tab)
    tab.progress.begin(probe=True, folds=5)
    for e in _training_events()[:4]:
        tab.handle(e)
    assert tab.stage.text() == "embedding every segment with the frozen backbone"
    tab.handle(ev.FoldStarted(2, 5))
    tab.handle(ev.CacheStarted(321))
    assert tab.progress.step.text() == "Fold 2 of 5 · Step 2 of 4: Embedding the tracks"
    assert tab.stage.text() == "" and tab.progress.bar.text() == "0 of 321 tracks"


def test_a_sender_that_names_its_pass_is_believed(qtbot) -> None:
    p = TrainProgress()
    qtbot.addWidget(p)
    p.begin(probe=True, folds=1)
    p.handle(ev.CacheStarted(12, what="embeddings"))  # first, yet not the features
    assert p.name == EMBEDDING
    p.handle(ev.CacheStarted(12, what="features"))
    assert p.name == FEATURES
