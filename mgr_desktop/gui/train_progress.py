"""The Train tab's progress: the step a run is in, that step's own bar and total, and its
elapsed time and time left.

The steps: reading the audio features (once a job, `train.data.prepare`), embedding every
track with the frozen pretrained network (a head on a pretrained network, `train.probe`; each
fold), training (a bar for the epochs, one for the batches of the epoch), and testing. Each
bar's total is set when its step starts and never changes within it, so no bar jumps (an
unset one read "0/100", a Qt default).

The two caching passes send the same events (CacheStarted … CacheDone). A sender may name
its pass (`CacheStarted.what`); when it does not, order tells: a job reads its features once,
before anything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from mgr_desktop.train import events as ev

STARTING = "Starting the training process…"  # not a step of its own: no number, no bar
FEATURES = "Reading the audio features"
EMBEDDING = "Embedding the tracks"  # with the frozen pretrained network
TRAINING = "Training"
TESTING = "Testing and saving"


def clock(seconds: float) -> str:
    """1:05, or 1:02:03 past an hour."""
    s = max(0, round(seconds))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainProgress(QWidget):
    """`name` is the step in progress ("" when none); `clock` gives seconds (a test's fake)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.step = QLabel("")
        self.step.setWordWrap(True)
        font = self.step.font()
        font.setBold(True)
        self.step.setFont(font)
        self.time = QLabel("")
        self.time.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.bar = QProgressBar()  # the step's own progress: tracks, or epochs
        self.batch_bar = QProgressBar()  # training: the batches of this epoch
        self.batch_bar.setFormat("batch %v of %m")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.step, 1)
        row.addWidget(self.time)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(row)
        box.addWidget(self.bar)
        box.addWidget(self.batch_bar)
        self.name = ""
        self.steps: list[str] = []  # the run's plan, for "step 2 of 4"
        self._now = clock
        self._t0 = self._run_t0 = 0.0  # when this step, and the run, started
        self._left: tuple[float, float] | None = None  # (seconds left, when estimated)
        self._shown = ""
        self._heading = ""
        self._features_read = False
        self._fold = (1, 1)
        self._epoch_times: list[float] = []
        self.reset()

    # -- the run ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Nothing running: no step, no bars."""
        self.name, self._left, self._shown = "", None, ""
        self.step.setText("")
        self.time.setText("")
        self.bar.hide()
        self.batch_bar.hide()
        self.hide()  # no room taken in the column until a run starts

    def begin(self, probe: bool, folds: int) -> None:
        """A run starts. `probe`: a head on a frozen pretrained network (it embeds the tracks
        first); `folds`: k for a k-fold run, else 1."""
        self.steps = [FEATURES, *([EMBEDDING] if probe else []), TRAINING, TESTING]
        self._features_read = False
        self._fold = (1, folds)
        self._epoch_times = []
        self._run_t0 = self._now()
        self._enter(STARTING)

    def finish(self) -> None:
        """The run is over: what it took."""
        took = self._now() - self._run_t0
        self.reset()
        self.time.setText(f"{clock(took)} in all")
        self.show()

    def handle(self, e: ev.Event) -> None:
        """Follow one event of the run (every event may be passed; others are ignored)."""
        if isinstance(e, ev.CacheStarted):
            self._cache_started(e)
        elif isinstance(e, ev.CacheProgress) and self.bar.maximum() > 0:
            self.bar.setValue(min(e.done, self.bar.maximum()))
            spent = self._now() - self._t0
            self._estimate(spent / e.done * (self.bar.maximum() - e.done) if e.done else None)
        elif isinstance(e, ev.CacheDone):
            self.bar.setValue(self.bar.maximum())
        elif isinstance(e, ev.FoldStarted):
            self._fold = (e.fold, e.folds)
            self._epoch_times = []
        elif isinstance(e, ev.EpochStarted):
            self._epoch_started(e)
        elif isinstance(e, ev.BatchProgress):
            self.batch_bar.setValue(e.batch + 1)
            self._estimate(self._training_left(e))
        elif isinstance(e, ev.EpochEnded):
            self._epoch_ended(e)
        self.tick()

    def tick(self) -> None:
        """Bring the elapsed time and the time left up to now (the tab calls this as it polls,
        so they count between events too)."""
        if not self.name:
            return
        now = self._now()
        text = f"{clock(now - self._t0)} elapsed"
        if self._left is not None:
            left, at = self._left
            text += f" · about {clock(max(0.0, left - (now - at)))} left"
        elif not self.bar.isHidden() and self.bar.maximum() > 0:
            text += " · estimating the time left"
        if text != self._shown:
            self._shown = text
            self.time.setText(text)

    # -- steps ------------------------------------------------------------------------------
    def _enter(self, name: str, total: int = 0, unit: str = "") -> None:
        """Start step `name`; its bar counts to `total` `unit` (no bar when total is 0)."""
        self.name, self._left, self._t0 = name, None, self._now()
        fold, folds = self._fold
        where = [f"Fold {fold} of {folds}"] if folds > 1 and name != FEATURES else []
        if name in self.steps:
            where.append(f"Step {self.steps.index(name) + 1} of {len(self.steps)}")
        self._heading = f"{' · '.join(where)}: {name}" if where else name
        self.step.setText(self._heading)
        self.show()
        self.bar.setVisible(total > 0 or name == TESTING)
        self.bar.setRange(0, total)  # (0, 0) while testing: busy, no total to show
        self.bar.setValue(0)
        self.bar.setFormat(f"%v of %m {unit}")
        self.batch_bar.setVisible(name == TRAINING)

    def _cache_started(self, e: ev.CacheStarted) -> None:
        what = e.what or ("embeddings" if self._features_read else "features")
        self._features_read = True
        self._enter(EMBEDDING if what == "embeddings" else FEATURES, e.total, "tracks")

    def _epoch_started(self, e: ev.EpochStarted) -> None:
        if self.name != TRAINING:
            self._enter(TRAINING, e.epochs)
            self.bar.setFormat("epoch %v of %m")
        self.bar.setValue(e.epoch + 1)  # the epoch in progress; the batch bar is within it
        self.batch_bar.setRange(0, e.batches)
        self.batch_bar.setValue(0)

    def _epoch_ended(self, e: ev.EpochEnded) -> None:
        self._epoch_times.append(e.seconds)
        if e.epoch >= e.epochs:  # the last one: the test and the model come next
            self._enter(TESTING)

    def _training_left(self, e: ev.BatchProgress) -> float:
        epochs_after = self.bar.maximum() - e.epoch - 1  # after the one in progress
        done = (e.batch + 1) / e.batches  # of this epoch
        if self._epoch_times:  # whole epochs, validation included
            per_epoch = sum(self._epoch_times) / len(self._epoch_times)
            return per_epoch * (epochs_after + 1 - done)
        per_batch = e.elapsed / (e.batch + 1)
        return per_batch * (e.batches * (epochs_after + 1) - e.batch - 1)

    def _estimate(self, left: float | None) -> None:
        self._left = None if left is None else (left, self._now())
