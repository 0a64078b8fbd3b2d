"""Train: pick a GTZAN folder, train in a separate process, watch it, and use the model.

The loop is the same `fit` as `mgr-desktop train`; it runs in a spawned process so Stop is
clean and a crash or out-of-memory there cannot take the window down. Its events arrive as
dicts through a queue, polled here.
"""

from __future__ import annotations

import json
import queue
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.gui.train_plots import TrainPlots
from mgr_desktop.models.registry import ARCHITECTURES, DEFAULT_ARCH, get_architecture
from mgr_desktop.paths import runs_dir
from mgr_desktop.train.recipe import TrainConfig

POLL_MS = 50
SPLIT_CHOICES = (("random", "Random by track (70/15/15)"),
                 ("fault-filtered", "GTZAN fault-filtered (published)"),
                 ("kfold", "k-fold by track"))  # fmt: skip


def _float_field(value: float, tip: str) -> QLineEdit:
    field = QLineEdit(f"{value:g}")
    field.setToolTip(tip)
    return field


class TrainTab(QWidget):
    model_ready = Signal(str)  # path of a model installed into the models folder
    use_requested = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="discover")
        self._report_future: Future[Any] | None = None
        self.report: Any = None
        self.proc: Any = None
        self.events: Any = None
        self.stop_event: Any = None
        self.job: Any = None
        self.state = "idle"  # idle, caching, training, stopping, finished, stopped, failed
        self.last_model: str | None = None
        self._t_train = 0.0
        self._epoch_times: list[float] = []
        self._epochs = 0
        self._build()
        self._restore()
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._drain)
        self.refresh_runs()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        d = TrainConfig()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("your GTZAN folder (genres/, genres_original/, …)")
        self.folder.setToolTip(
            "A folder with one subfolder of audio files per genre. GTZAN "
            "works in its usual layouts; any genre set works too."
        )
        self.folder.editingFinished.connect(lambda: self.set_data_folder(self.folder.text()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.report_label = QPlainTextEdit("Choose a folder to see what is in it.")
        self.report_label.setReadOnly(True)
        self.report_label.setMaximumHeight(8 * self.fontMetrics().height())
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.report_label.setFont(mono)

        self.arch = QComboBox()
        for spec in ARCHITECTURES.values():  # the registry is the one list of architectures
            self.arch.addItem(spec.title, spec.name)
        self.arch.setCurrentIndex(self.arch.findData(DEFAULT_ARCH))
        self.arch.setToolTip(
            "musicnn: a genre head on a network pretrained on a million songs — recommended, "
            "seconds to train once the audio is embedded. The compact CNN and ResNet18 learn "
            "from scratch and need far more than GTZAN's 1,000 tracks to generalise."
        )
        self.pretrained = QCheckBox("Start from pretrained weights")
        self.pretrained.setChecked(True)
        self.fine_tune = QCheckBox("Fine-tune the whole network (slow; GPU advised)")
        self.fine_tune.setToolTip(
            "Off: train only the genre head on the frozen pretrained network (a probe). "
            "On: train every layer, starting from the pretrained weights."
        )
        self.arch.currentIndexChanged.connect(self._arch_changed)
        self.split = QComboBox()
        for key, text in SPLIT_CHOICES:
            self.split.addItem(text, key)
        self.split.setToolTip(
            "Every split is by track: no piece of a test song is ever "
            "trained on. Fault-filtered needs GTZAN's file names."
        )
        self.folds = QSpinBox()
        self.folds.setRange(3, 10)
        self.folds.setValue(5)
        self.folds.setToolTip("k for k-fold: k runs, scores reported as mean ± std")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(d.epochs)
        self.epochs.setToolTip("Passes over the training tracks (one random 3 s crop each)")
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setValue(d.batch_size)
        self.batch.setToolTip("Windows per step; lower it if you run out of memory")
        self.max_lr = _float_field(
            get_architecture(DEFAULT_ARCH).default_max_lr,
            "Peak of the OneCycle learning-rate "
            "schedule (warm up, then anneal), stepped every batch",
        )
        self.weight_decay = _float_field(d.weight_decay, "AdamW's decoupled weight decay")
        self.clip = _float_field(
            d.clip_value or 0.1, "Clip each gradient value to ± this; 0 turns clipping off"
        )
        self.device = QComboBox()
        self.device.setToolTip("Where to train: auto picks CUDA, then Apple MPS, then the CPU")
        self.device.addItem("auto", "auto")
        self.device.addItem("CPU", "cpu")

        form = QFormLayout()
        form.addRow("Data folder:", folder_row)
        form.addRow("", self.report_label)
        form.addRow("Architecture:", self.arch)
        form.addRow("", self.pretrained)
        form.addRow("", self.fine_tune)
        split_row = QHBoxLayout()
        split_row.addWidget(self.split, 1)
        split_row.addWidget(QLabel("folds"))
        split_row.addWidget(self.folds)
        form.addRow("Split:", split_row)
        form.addRow("Epochs:", self.epochs)
        form.addRow("Batch size:", self.batch)
        form.addRow("Max learning rate:", self.max_lr)
        form.addRow("Weight decay:", self.weight_decay)
        form.addRow("Gradient clip:", self.clip)
        form.addRow("Device:", self.device)
        setup = QGroupBox("Set-up")
        setup.setLayout(form)
        self._arch_changed()

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
        self.stage = QLabel("")
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e15759;")
        self.files_bar = QProgressBar()
        self.files_bar.setFormat("features %v/%m tracks")
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setFormat("epoch %v/%m")
        self.batch_bar = QProgressBar()
        self.batch_bar.setFormat("batch %v/%m")
        self.eta = QLabel("")
        run_box = QVBoxLayout()
        run_box.addLayout(buttons)
        for w in (self.stage, self.files_bar, self.epoch_bar, self.batch_bar, self.eta, self.error):
            run_box.addWidget(w)
        self.runs = QListWidget()
        self.runs.setToolTip("Past runs: select one to see its curves and scores")
        self.runs.currentItemChanged.connect(self._run_selected)
        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self._use_selected)
        run_box.addWidget(QLabel("Runs:"))
        run_box.addWidget(self.runs, 1)
        run_box.addWidget(self.use_button)
        run_group = QGroupBox("Run")
        run_group.setLayout(run_box)

        left = QVBoxLayout()
        left.addWidget(setup)
        left.addWidget(run_group, 1)
        left_w = QWidget()
        left_w.setLayout(left)
        scroll = QScrollArea()  # the set-up column scrolls on small screens (laptops, 768 px)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(left_w)
        self.plots = TrainPlots()
        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(self.plots)
        split.setStretchFactor(1, 3)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)
        self._update_buttons()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if "torch" in sys.modules and self.device.count() == 2:  # loaded by the window's worker
            import torch

            if torch.cuda.is_available():
                self.device.addItem(f"CUDA ({torch.cuda.get_device_name(0)})", "cuda")
            if torch.backends.mps.is_available():
                self.device.addItem("Apple MPS", "mps")

    def _arch_changed(self) -> None:
        spec = get_architecture(self.arch.currentData())
        self.pretrained.setEnabled(spec.supports_pretrained)
        self.pretrained.setToolTip(spec.pretrained_help or "this architecture starts from scratch")
        self.fine_tune.setEnabled(spec.transfer)
        self.max_lr.setText(f"{spec.default_max_lr:g}")

    # -- data folder ------------------------------------------------------------------------
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Your GTZAN folder", self.folder.text())
        if folder:
            self.set_data_folder(folder)

    def set_data_folder(self, folder: str) -> None:
        """Validate on selection: the discovery report (reads and hashes every file, so off
        the UI thread)."""
        from mgr_desktop.train.discover import discover

        self.folder.setText(folder)
        self.report = None
        if not folder.strip():
            return
        self.report_label.setPlainText("Reading the folder…")
        self._report_future = self._executor.submit(discover, folder)
        QTimer.singleShot(50, self._check_report)
        self._update_buttons()

    def _check_report(self) -> None:
        from mgr_desktop.train.discover import DatasetError

        fut = self._report_future
        if fut is None:
            return
        if not fut.done():
            QTimer.singleShot(50, self._check_report)
            return
        self._report_future = None
        try:
            self.report = fut.result()
        except DatasetError as e:
            self.report_label.setPlainText(f"✗ {e}")
        except OSError as e:
            self.report_label.setPlainText(f"✗ cannot read {e.filename}: {e.strerror or e}")
        else:
            self.report_label.setPlainText(self.report.summary())
        self._update_buttons()

    # -- runs -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None

    def config(self) -> TrainConfig:
        clip = float(self.clip.text())
        return TrainConfig(
            arch=self.arch.currentData(), epochs=self.epochs.value(),
            batch_size=self.batch.value(), max_lr=float(self.max_lr.text()),
            weight_decay=float(self.weight_decay.text()), clip_value=clip if clip > 0 else None,
            device=self.device.currentData(), pretrained=self.pretrained.isChecked(),
            freeze_backbone=not self.fine_tune.isChecked(),
        )  # fmt: skip

    def start(self) -> None:
        from mgr_desktop.train.runner import TrainJob, run_name

        if self.running:
            return
        if self.report is None:
            self._fail("Choose a readable genre folder first.")
            return
        try:
            config = self.config()
        except ValueError as e:
            self._fail(f"Check the settings: {e}")
            return
        split = self.split.currentData()
        out = runs_dir() / run_name(config.arch, split)
        job = TrainJob(str(self.report.root), str(out), split, self.folds.value(), config.to_dict())
        self._save()
        self._launch(job)

    def resume(self) -> None:
        from mgr_desktop.train.runner import TrainJob

        item = self.runs.currentItem()
        if self.running or item is None:
            return
        job = TrainJob.load(item.data(Qt.ItemDataRole.UserRole))
        job.resume = True
        self._launch(job)

    def _launch(self, job: Any) -> None:
        from mgr_desktop.train.runner import start_process

        self.job = job
        self.plots.clear()
        if job.resume:
            self._show_metrics(Path(job.out_dir))
        self.error.setText("")
        self.last_model = None
        self._epoch_times = []
        self._epochs = job.config.get("epochs", 0)
        self.epoch_bar.setRange(0, max(1, self._epochs))
        self.epoch_bar.setValue(len(self.plots.history))
        self.batch_bar.setValue(0)
        self.files_bar.setValue(0)
        self.stage.setText("Starting…")
        self.proc, self.events, self.stop_event = start_process(job)
        self.state = "caching"
        self.poll.start()
        self._update_buttons()

    def stop(self) -> None:
        if self.stop_event is not None and self.running:
            self.stop_event.set()
            self.state = "stopping"
            self.stage.setText("Stopping after this batch…")
            self._update_buttons()

    def stop_and_wait(self, timeout: float = 30.0) -> None:
        """Window closing: stop, let the run write its checkpoint, and end the process."""
        if not self.running:
            return
        self.stop_event.set()
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self._drain()
        self._finish_process()

    # -- events from the training process ----------------------------------------------------
    def _drain(self) -> None:
        for _ in range(500):
            try:
                event = self.events.get_nowait()
            except (queue.Empty, OSError, ValueError, EOFError):
                break
            self.handle(event)
        if self.proc is not None and not self.proc.is_alive() and self.state in (
                "caching", "training", "stopping"):  # fmt: skip
            try:  # a last look: events can arrive just after the process exits
                while True:
                    self.handle(self.events.get(timeout=0.2))
            except (queue.Empty, OSError, ValueError, EOFError):
                pass
            if self.state in ("caching", "training", "stopping"):
                self._fail(
                    f"The training process ended unexpectedly (exit code {self.proc.exitcode})."
                )
            self._finish_process()

    def handle(self, e: dict[str, Any]) -> None:
        kind = e["kind"]
        if kind == "dataset":
            self.stage.setText("Reading features…")
        elif kind == "cache_start":
            self.files_bar.setRange(0, max(1, e["total"]))
        elif kind == "cache_progress":
            self.files_bar.setValue(e["done"])
        elif kind == "cache_done":
            self.files_bar.setValue(self.files_bar.maximum())
            self.state = "training" if self.state == "caching" else self.state
            self._t_train = time.monotonic()
        elif kind == "epoch_start":
            self.epoch_bar.setRange(0, e["epochs"])
            self.epoch_bar.setValue(e["epoch"])
            self.batch_bar.setRange(0, e["batches"])
            self.batch_bar.setValue(0)
            self._epochs = e["epochs"]
            if self.state != "stopping":
                self.stage.setText(f"Training epoch {e['epoch'] + 1} of {e['epochs']}")
        elif kind == "batch":
            self.batch_bar.setValue(e["batch"] + 1)
            self.plots.add_lr(e["lr"])
            self._update_eta(e)
        elif kind == "epoch_end":
            self.epoch_bar.setValue(e["epoch"])
            self._epoch_times.append(e["seconds"])
            self.plots.set_history([*self.plots.history, e])
        elif kind == "test":
            self.plots.show_test(e["metrics"])
        elif kind in ("message", "resumed"):
            self.stage.setText(e["text"])
        elif kind == "error":
            self._fail(e["text"])
        elif kind == "finished":
            self._finished(e)

    def _update_eta(self, e: dict[str, Any]) -> None:
        left_epochs = self._epochs - e["epoch"] - 1
        if self._epoch_times:
            per_epoch = sum(self._epoch_times) / len(self._epoch_times)
            left = per_epoch * left_epochs + per_epoch * (1 - (e["batch"] + 1) / e["batches"])
        else:
            per_batch = e["elapsed"] / (e["batch"] + 1)
            left = per_batch * (e["batches"] * (left_epochs + 1) - e["batch"] - 1)
        self.eta.setText(f"about {int(left // 60)} min {int(left % 60):02d} s left")

    def _finished(self, e: dict[str, Any]) -> None:
        from mgr_desktop.train.runner import install_model

        out = Path(e["out_dir"])
        if e["status"] == "finished":
            self.state = "finished"
            try:
                path = install_model(out)
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
        self.eta.setText("")
        self._finish_process()
        self.refresh_runs(select=str(out))

    def _fail(self, text: str) -> None:
        self.state = "failed" if self.running else self.state
        self.error.setText(text)
        self.stage.setText("")

    def _finish_process(self) -> None:
        self.poll.stop()
        if self.proc is not None:
            self.proc.join(5)
        self.proc = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(not running and self.report is not None)
        self.stop_button.setEnabled(running and self.state != "stopping")
        item = self.runs.currentItem()
        can_resume = False
        if item is not None and not running:
            run = Path(item.data(Qt.ItemDataRole.UserRole))
            can_resume = (run / "last.safetensors").exists() and not _finished(run)
        self.resume_button.setEnabled(can_resume)
        self.use_button.setEnabled(
            item is not None
            and not running
            and (Path(item.data(Qt.ItemDataRole.UserRole)) / "model.safetensors").exists()
        )

    # -- past runs --------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        from mgr_desktop.train.runner import list_runs

        self.runs.blockSignals(True)
        self.runs.clear()
        for run in list_runs(runs_dir()):
            status = "finished" if _finished(run) else "stopped"
            item = QListWidgetItem(f"{run.name}  ({status})")
            item.setData(Qt.ItemDataRole.UserRole, str(run))
            self.runs.addItem(item)
            if select and str(run) == select:
                self.runs.setCurrentItem(item)
        self.runs.blockSignals(False)
        self._update_buttons()

    def _run_selected(self, item: QListWidgetItem | None, _: Any = None) -> None:
        self._update_buttons()
        if item is None or self.running:
            return
        self.plots.clear()
        self._show_metrics(Path(item.data(Qt.ItemDataRole.UserRole)))

    def _show_metrics(self, run: Path) -> None:
        try:
            metrics = json.loads((run / "metrics.json").read_text())
        except (OSError, ValueError):
            return
        self.plots.set_history(metrics.get("history", []))
        if metrics.get("test"):
            self.plots.show_test(metrics["test"])

    def _use_selected(self) -> None:
        from mgr_desktop.train.runner import install_model

        item = self.runs.currentItem()
        if item is None:
            return
        run = Path(item.data(Qt.ItemDataRole.UserRole))
        try:
            path = install_model(run)
        except OSError as e:
            self._fail(f"Cannot install the model: {e.strerror or e}")
            return
        self.model_ready.emit(str(path))
        self.use_requested.emit(str(path))

    # -- remembered settings ----------------------------------------------------------------
    def _save(self) -> None:
        self.settings.set(Key.TRAIN, json.dumps({
            "folder": self.folder.text(), "arch": self.arch.currentData(),
            "split": self.split.currentData(), "epochs": self.epochs.value(),
            "batch": self.batch.value(), "max_lr": self.max_lr.text(),
            "weight_decay": self.weight_decay.text(), "clip": self.clip.text(),
        }))  # fmt: skip

    def _restore(self) -> None:
        try:
            saved = json.loads(self.settings.get(Key.TRAIN) or "{}")
        except ValueError:
            return
        if not saved:
            return
        self.arch.setCurrentIndex(max(0, self.arch.findData(saved.get("arch"))))
        self.split.setCurrentIndex(max(0, self.split.findData(saved.get("split"))))
        self.epochs.setValue(int(saved.get("epochs", self.epochs.value())))
        self.batch.setValue(int(saved.get("batch", self.batch.value())))
        for field, key in (
            (self.max_lr, "max_lr"),
            (self.weight_decay, "weight_decay"),
            (self.clip, "clip"),
        ):
            if key in saved:
                field.setText(saved[key])
        if saved.get("folder"):
            self.folder.setText(saved["folder"])


def _finished(run: Path) -> bool:
    try:
        return json.loads((run / "metrics.json").read_text()).get("test") is not None
    except (OSError, ValueError):
        return False
