"""Train: pick a GTZAN folder (or any tagged music folder, labels from its genre tags), train
in a separate process, watch it, and use the model (after a run on tag labels: offer to tag
the untagged files with it, `UntaggedPanel`).

The loop is the same `fit` as `mgr-desktop train`; it runs in a spawned process
(`train.runner.TrainProcess`) so Stop is clean and a crash or out-of-memory there cannot take
the window down. Its typed events (`train.events`) arrive through a queue, polled here.

This module is layout and wiring: the settings are `TrainForm`'s, the steps and their time
left `TrainProgress`', the curves and scores `TrainPlots`', the run folders `train.runs`'.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui.settings import Settings
from mgr_desktop.gui.train_form import TrainForm
from mgr_desktop.gui.train_plots import TrainPlots
from mgr_desktop.gui.train_progress import TrainProgress
from mgr_desktop.gui.untagged_tagging import UntaggedPanel
from mgr_desktop.paths import runs_dir
from mgr_desktop.train import events as ev
from mgr_desktop.train.runs import FINISHED, Run, install_model, list_runs, read_run

POLL_MS = 50


class _Line(QLabel):
    """A wrapped line of text that takes no room while it is empty (the column is short)."""

    def __init__(self) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.hide()

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setVisible(bool(text))


class TrainTab(QWidget):
    model_ready = Signal(str)  # path of a model installed into the models folder
    use_requested = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.process: Any = None  # the TrainProcess of the run in progress
        self.job: Any = None
        self.state = "idle"  # idle, caching, training, stopping, finished, stopped, failed
        self.last_model: str | None = None
        self.start_pending = False  # Start was pressed while the folder was being read
        self._build()
        self.form.restore(settings)
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._drain)
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.CacheDone: self._cache_done,
            ev.BatchProgress: lambda e: self.plots.add_lr(e.lr),
            ev.EpochEnded: lambda e: self.plots.set_history([*self.plots.history, e.row()]),
            ev.TestMeasured: lambda e: self.plots.show_test(e.metrics),
            ev.Message: lambda e: self.stage.setText(e.text),
            ev.Resumed: lambda e: self.stage.setText(e.text),
            ev.FoldStarted: self._fold_started,
            ev.KFoldFinished: lambda e: self.plots.show_kfold(e.summary, e.folds),
            ev.RunFailed: lambda e: self._fail(e.text),
            ev.RunEnded: self._finished,
        }
        self.refresh_runs()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.form = TrainForm()
        self.form.report_changed.connect(self._report_changed)
        self.form.folder.textEdited.connect(self._folder_typed)
        self.form.folder.textChanged.connect(self._update_buttons)
        left = QVBoxLayout()
        left.addWidget(self.form)
        left.addWidget(self._build_run_box(), 1)
        left_w = QWidget()
        left_w.setLayout(left)
        # The set-up column scrolls on small screens (laptops, 768 px), only ever down: it
        # is never narrower than its contents, which wrap instead (two fields a row, combo
        # boxes and paths that shorten), so no control hides past a sideways scroll bar.
        self.setup_scroll = QScrollArea()
        self.setup_scroll.setWidgetResizable(True)
        self.setup_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.setup_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setup_scroll.setWidget(left_w)
        bar = self.setup_scroll.verticalScrollBar().sizeHint().width()
        self.setup_scroll.setMinimumWidth(left_w.minimumSizeHint().width() + bar)
        self.plots = TrainPlots()
        split = QSplitter()
        split.setChildrenCollapsible(False)
        split.addWidget(self.setup_scroll)
        split.addWidget(self.plots)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([1, 10_000])  # the column as narrow as it may be, the plots the rest
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)
        self._update_buttons()

    def _build_run_box(self) -> QGroupBox:
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        self.progress = TrainProgress()
        self.stage = _Line()  # what the run says (a skipped file, "Finished…", "Stopped…")
        self.error = _Line()
        self.error.setStyleSheet("color: #e15759;")
        box = QVBoxLayout()
        box.addLayout(buttons)
        for w in (self.progress, self.stage, self.error):
            box.addWidget(w)
        self.runs = QListWidget()
        self.runs.setToolTip("Past runs: select one to see its curves and scores")
        self.runs.currentItemChanged.connect(self._run_selected)
        # What room is left, three rows at least: its usual preferred 192 px would make the
        # column scroll at 780 px (wrapped labels make the scroll area ask for preferred
        # heights, not minimal ones) and hide Use this model below the fold
        self.runs.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.runs.setMinimumHeight(4 * self.fontMetrics().height())
        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self._use_selected)
        self.untagged = UntaggedPanel(self.settings)  # runs on tag labels: tag the rest
        box.addWidget(QLabel("Runs:"))
        box.addWidget(self.runs, 1)
        box.addWidget(self.use_button)
        box.addWidget(self.untagged)
        group = QGroupBox("Run")
        group.setLayout(box)
        return group

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.form.add_accelerators()

    # -- starting and stopping ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None

    @property
    def proc(self) -> Any:
        """The training process, while one runs."""
        return None if self.process is None else self.process.proc

    def start(self) -> None:
        """Start a run. A folder typed but not read yet is read first, and the run starts
        when its report is in: one press of Start is enough."""
        if self.running:
            return
        self.form.check_folder()
        if self.form.checking:
            self.start_pending = True
            self.error.setText("")
            self.stage.setText("Reading the folder; the run starts when it is checked…")
            self._update_buttons()
            return
        self.start_pending = False
        if self.form.report is None:
            self._fail("Choose a readable genre folder first.")
            return
        try:
            job = self.form.job(runs_dir())
        except ValueError as e:
            self._fail(f"Check the settings: {e}")
            return
        self.form.save(self.settings)
        self._launch(job)

    def _report_changed(self) -> None:
        if self.start_pending and not self.form.checking:
            self.start()  # the folder Start was pressed for is read: on with the run
        self._update_buttons()

    def _folder_typed(self, _text: str) -> None:
        if self.start_pending:  # another folder now: the user presses Start for it again
            self.start_pending = False
            self.stage.setText("")
            self._update_buttons()

    def resume(self) -> None:
        from mgr_desktop.train.runner import TrainJob

        path = self._selected_run()
        if self.running or path is None:
            return
        job = TrainJob.load(path)
        job.resume = True
        self._launch(job)

    def _launch(self, job: Any) -> None:
        from mgr_desktop.train.recipe import TrainConfig
        from mgr_desktop.train.runner import TrainProcess

        self.job = job
        self.plots.clear()
        if job.resume:
            self._show_run(read_run(job.out_dir))
        self.error.setText("")
        self.last_model = None
        self.stage.setText("")
        folds = job.folds if job.split == "kfold" else 1
        self.progress.begin(TrainConfig.from_dict(job.config).probe, folds)
        self.process = TrainProcess(job)
        self.state = "caching"
        self.poll.start()
        self._update_buttons()

    def stop(self) -> None:
        if self.running:
            self.process.stop()
            self.state = "stopping"
            self.stage.setText("Stopping after this batch…")
            self._update_buttons()

    def stop_and_wait(self, timeout: float = 30.0) -> None:
        """Window closing: stop, let the run write its checkpoint, and end the process."""
        if not self.running:
            return
        for event in self.process.stop_and_wait(timeout):
            self.handle(event)
        self._finish_process()

    # -- events from the training process ----------------------------------------------------
    def _drain(self) -> None:
        if self.process is None:
            return
        for event in self.process.poll():
            self.handle(event)
        self.progress.tick()  # the elapsed time counts between events too
        if self.process is not None and self.process.over:
            self._finish_process()

    def handle(self, e: ev.Event) -> None:
        step = self.progress.name
        self.progress.handle(e)
        if self.progress.name != step and self.state != "stopping":
            self.stage.setText("")  # a message of the last step is stale in the next one
        handler = self._handlers.get(type(e))
        if handler is not None:
            handler(e)

    def _cache_done(self, e: ev.CacheDone) -> None:
        self.state = "training" if self.state == "caching" else self.state

    def _fold_started(self, e: ev.FoldStarted) -> None:
        self.plots.clear()  # each fold's own curves

    def _finished(self, e: ev.RunEnded) -> None:
        if e.status == FINISHED:
            self.state = "finished"
            try:
                path = install_model(e.out_dir)
            except OSError as err:
                self._fail(f"Trained, but could not save the model: {err.strerror or err}")
            else:
                self.last_model = str(path)
                self.stage.setText(f"Finished. Model saved as {path.name}")
                self.model_ready.emit(str(path))
        else:
            self.state = "stopped"
            self.stage.setText(
                "Stopped. The last checkpoint is kept: select the run and press Resume to continue."
            )
        self._finish_process()

    def _fail(self, text: str) -> None:
        self.state = "failed" if self.running else self.state
        self.error.setText(text)
        self.stage.setText("")

    def _finish_process(self) -> None:
        self.poll.stop()
        if self.process is not None:
            self.progress.finish()
            self.process.join(5)
            self.process = None
            self.refresh_runs(select=self.job.out_dir)  # listed however it ended
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(
            not running and not self.start_pending and self.form.startable()
        )
        self.stop_button.setEnabled(running and self.state != "stopping")
        path = self._selected_run()
        run = read_run(path) if path is not None and not running else None
        self.resume_button.setEnabled(run is not None and run.resumable)
        self.use_button.setEnabled(run is not None and run.has_model)
        self.untagged.set_run(path if run is not None and run.finished else None)

    # -- past runs --------------------------------------------------------------------------
    def _selected_run(self) -> Path | None:
        item = self.runs.currentItem()
        return None if item is None else Path(item.data(Qt.ItemDataRole.UserRole))

    def refresh_runs(self, select: str | None = None) -> None:
        select = select or (str(self._selected_run()) if self._selected_run() else None)
        self.runs.blockSignals(True)
        self.runs.clear()
        for path in list_runs(runs_dir()):
            item = QListWidgetItem(f"{path.name}  ({read_run(path).status})")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.runs.addItem(item)
            if select and str(path) == select:
                self.runs.setCurrentItem(item)
        self.runs.blockSignals(False)
        self._update_buttons()

    def _run_selected(self, item: QListWidgetItem | None, _: Any = None) -> None:
        self._update_buttons()
        if item is None or self.running:
            return
        self.plots.clear()
        self._show_run(read_run(item.data(Qt.ItemDataRole.UserRole)))

    def _show_run(self, run: Run) -> None:
        self.plots.set_history(run.history)
        if run.test:
            self.plots.show_test(run.test)
        if run.kfold:
            self.plots.show_kfold(run.kfold, run.folds)

    def _use_selected(self) -> None:
        path = self._selected_run()
        if path is None:
            return
        try:
            model = install_model(path)
        except OSError as e:
            self._fail(f"Cannot install the model: {e.strerror or e}")
            return
        self.model_ready.emit(str(model))
        self.use_requested.emit(str(model))
