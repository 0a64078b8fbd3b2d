"""The Train tab's set-up: a data folder (checked as it is chosen) and the training settings,
as one widget that produces the recipe of a run (`job`) and remembers itself."""

from __future__ import annotations

import json
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from mgr_desktop.gui.path_edit import PathEdit
from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.models.registry import ARCHITECTURES, DEFAULT_ARCH, get_architecture
from mgr_desktop.train.recipe import TrainConfig

SPLIT_CHOICES = (("random", "Random by track (70/15/15)"),
                 ("fault-filtered", "GTZAN fault-filtered (published)"),
                 ("kfold", "k-fold by track"))  # fmt: skip
# The remembered settings (Key.TRAIN): the widget that holds each.
_TEXT_FIELDS = ("max_lr", "weight_decay", "clip")


def _float_field(value: float, tip: str) -> QLineEdit:
    field = QLineEdit(f"{value:g}")
    field.setToolTip(tip)
    return field


def _combo(chars: int) -> QComboBox:
    """A combo box that may be narrower than its longest entry (a GPU's name, a split's
    description): sized to its items, one would push the column past the window's edge."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


def fit_popup(combo: QComboBox) -> None:
    """The list opens wide enough for whole entries, however narrow the box."""
    view = combo.view()
    view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 4)


def _label(text: str, buddy: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


class TrainForm(QGroupBox):
    """`report` is the chosen folder's discovery report (None until one is read); `config()`
    and `job()` raise ValueError with a sentence when a setting is invalid."""

    report_changed = Signal()  # a folder was read (or refused): `report` changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Set-up", parent)
        self.report: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="discover")
        self._report_future: Future[Any] | None = None
        self._checked: tuple[str, bool] | None = None  # (folder, from tags) read or being read
        # Two pairs of label and field a row, so the column fits beside the plots at 1000 px.
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self._build_folder(grid)
        self._build_settings(grid)
        self._arch_changed()
        self._split_changed()

    # -- layout -----------------------------------------------------------------------------
    def _build_folder(self, grid: QGridLayout) -> None:
        self.folder = PathEdit(
            "A folder with one subfolder of audio files per genre. GTZAN "
            "works in its usual layouts; any genre set works too."
        )
        self.folder.setPlaceholderText("your GTZAN folder (genres/, genres_original/, …)")
        self.folder.editingFinished.connect(self._folder_edited)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        self.labels_from_tags = QCheckBox("Genres from the files' own genre tags")
        self.labels_from_tags.setToolTip(
            "Any music folder: each file's genre tag is its label (spellings of one genre are "
            "merged; genres under 5 tracks or 2 artists are dropped). Validation and test "
            "hold out whole artists. Files without a genre tag can be tagged by the new model."
        )
        self.labels_from_tags.toggled.connect(lambda _: self.set_data_folder(self.folder.text()))
        self.report_label = QPlainTextEdit("Choose a folder to see what is in it.")
        self.report_label.setReadOnly(True)
        self.report_label.setMaximumHeight(5 * self.fontMetrics().height())
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.report_label.setFont(mono)
        grid.addWidget(_label("Data folder:", self.folder), 0, 0)
        grid.addLayout(row, 0, 1, 1, 3)
        grid.addWidget(self.labels_from_tags, 1, 1, 1, 3)
        grid.addWidget(self.report_label, 2, 0, 1, 4)

    def _build_settings(self, grid: QGridLayout) -> None:
        d = TrainConfig()
        self.arch = _combo(14)
        for spec in ARCHITECTURES.values():  # the registry is the one list of architectures
            self.arch.addItem(spec.title, spec.name)
        self.arch.setCurrentIndex(self.arch.findData(DEFAULT_ARCH))
        fit_popup(self.arch)
        self.arch.setToolTip(
            "musicnn: a genre head on a network pretrained on a million songs — recommended, "
            "seconds to train once the audio is embedded. The compact CNN and ResNet18 learn "
            "from scratch and need far more than GTZAN's 1,000 tracks to generalise."
        )
        self.pretrained = QCheckBox("Pretrained weights")
        self.pretrained.setChecked(True)
        self.fine_tune = QCheckBox("Fine-tune every layer (slow)")
        self.fine_tune.setToolTip(
            "Off: train only the genre head on the frozen pretrained network (a probe). "
            "On: train every layer, starting from the pretrained weights (a GPU is advised)."
        )
        self.arch.currentIndexChanged.connect(self._arch_changed)
        self.split = _combo(12)
        for key, text in SPLIT_CHOICES:
            self.split.addItem(text, key)
        self.split.setToolTip(
            "Every split is by track: no piece of a test song is ever "
            "trained on. Fault-filtered needs GTZAN's file names."
        )
        self.split.currentIndexChanged.connect(self._split_changed)
        fit_popup(self.split)
        self.folds = _spin(3, 10, 5, "k for k-fold: k runs, scores reported as mean ± std")
        self.epochs = _spin(
            1, 500, d.epochs, "Passes over the training tracks (one random 3 s crop each)"
        )
        self.batch = _spin(
            1, 1024, d.batch_size, "Windows per step; lower it if you run out of memory"
        )
        self.max_lr = _float_field(
            get_architecture(DEFAULT_ARCH).default_max_lr,
            "Peak of the OneCycle learning-rate "
            "schedule (warm up, then anneal), stepped every batch",
        )
        self.weight_decay = _float_field(d.weight_decay, "AdamW's decoupled weight decay")
        self.clip = _float_field(
            d.clip_value or 0.1, "Clip each gradient value to ± this; 0 turns clipping off"
        )
        self.device = _combo(6)
        self.device.setToolTip("Where to train: auto picks CUDA, then Apple MPS, then the CPU")
        self.device.addItem("auto", "auto")
        self.device.addItem("CPU", "cpu")

        grid.addWidget(_label("Architecture:", self.arch), 3, 0)
        grid.addWidget(self.arch, 3, 1, 1, 3)
        checks = QHBoxLayout()  # under the architecture, as wide as the column
        checks.addWidget(self.pretrained)
        checks.addWidget(self.fine_tune)
        checks.addStretch(1)
        grid.addLayout(checks, 4, 0, 1, 4)
        split_row = QHBoxLayout()
        split_row.addWidget(self.split, 1)
        split_row.addWidget(_label("folds", self.folds))
        split_row.addWidget(self.folds)
        grid.addWidget(_label("Split:", self.split), 5, 0)
        grid.addLayout(split_row, 5, 1, 1, 3)
        pairs = (
            (("Epochs:", self.epochs), ("Batch size:", self.batch)),
            (("Max learning rate:", self.max_lr), ("Weight decay:", self.weight_decay)),
            (("Gradient clip:", self.clip), ("Device:", self.device)),
        )
        for row, pair in enumerate(pairs, 6):
            for col, (text, widget) in enumerate(pair):
                grid.addWidget(_label(text, widget), row, 2 * col)
                grid.addWidget(widget, row, 2 * col + 1)

    def add_accelerators(self) -> None:
        """Offer CUDA and MPS once torch is loaded (by the window's worker: importing it here
        would slow the start)."""
        if "torch" not in sys.modules or self.device.count() != 2:
            return
        import torch

        if torch.cuda.is_available():
            self.device.addItem(f"CUDA ({torch.cuda.get_device_name(0)})", "cuda")
        if torch.backends.mps.is_available():
            self.device.addItem("Apple MPS", "mps")
        fit_popup(self.device)

    def _split_changed(self) -> None:
        self.folds.setEnabled(self.split.currentData() == "kfold")

    def _arch_changed(self) -> None:
        spec = get_architecture(self.arch.currentData())
        self.pretrained.setEnabled(spec.supports_pretrained)
        self.pretrained.setToolTip(spec.pretrained_help or "this architecture starts from scratch")
        self.fine_tune.setEnabled(spec.transfer)
        self.max_lr.setText(f"{spec.default_max_lr:g}")

    # -- the data folder --------------------------------------------------------------------
    @property
    def checking(self) -> bool:
        """The folder is being read."""
        return self._report_future is not None

    def needs_check(self) -> bool:
        """A folder is typed in (or the tags choice changed) that has not been read yet."""
        wanted = (self.folder.text(), self.labels_from_tags.isChecked())
        return bool(wanted[0].strip()) and wanted != self._checked

    def startable(self) -> bool:
        """Start may be pressed: a folder is named and not known to be unreadable (one that
        has not been read yet is read then)."""
        refused = self.report is None and not self.checking and not self.needs_check()
        return bool(self.folder.text().strip()) and not refused

    def check_folder(self) -> None:
        """Read the typed folder unless it is read (or being read) already."""
        if self.needs_check():
            self.set_data_folder(self.folder.text())

    def _folder_edited(self) -> None:
        # editingFinished comes on every focus change too (pressing Start, say): reading the
        # same folder again would drop its report just as the click lands
        self.check_folder()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Your GTZAN folder", self.folder.text())
        if folder:
            self.set_data_folder(folder)

    def set_data_folder(self, folder: str) -> None:
        """Validate on selection: the discovery report (reads and hashes every file, so off
        the UI thread)."""
        from mgr_desktop.train.dataset_tracks import discover
        from mgr_desktop.train.tag_dataset import discover_tagged

        self.folder.setText(folder)
        self.report = None
        self._checked = (folder, self.labels_from_tags.isChecked())
        self._report_future = None  # a read still running is for another folder
        if not folder.strip():
            self.report_changed.emit()
            return
        tags = self.labels_from_tags.isChecked()
        self.report_label.setPlainText("Reading the tags…" if tags else "Reading the folder…")
        read = (lambda: discover_tagged(folder)) if tags else (lambda: discover(folder))
        self._report_future = self._executor.submit(read)
        QTimer.singleShot(50, self._check_report)
        self.report_changed.emit()

    def _check_report(self) -> None:
        from mgr_desktop.train.dataset_tracks import DatasetError

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
        self.report_changed.emit()

    # -- the recipe -------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        clip = float(self.clip.text())
        return TrainConfig(
            arch=self.arch.currentData(), epochs=self.epochs.value(),
            batch_size=self.batch.value(), max_lr=float(self.max_lr.text()),
            weight_decay=float(self.weight_decay.text()), clip_value=clip if clip > 0 else None,
            device=self.device.currentData(), pretrained=self.pretrained.isChecked(),
            freeze_backbone=not self.fine_tune.isChecked(),
        )  # fmt: skip

    def job(self, runs_folder: Path) -> Any:
        """A new run of these settings on the chosen folder, in a new folder of `runs_folder`
        named after its settings. Needs a report (`report` is not None)."""
        from mgr_desktop.train.runner import TrainJob
        from mgr_desktop.train.runs import run_name
        from mgr_desktop.train.tag_dataset import TagDatasetReport

        config = self.config()
        split = self.split.currentData()
        tags = isinstance(self.report, TagDatasetReport)
        if tags and split == "fault-filtered":
            raise ValueError("the fault-filtered split is GTZAN's; with genres from tags choose "
                             "random or k-fold (both by artist)")  # fmt: skip
        out = runs_folder / run_name(config.arch, f"{split}-tags" if tags else split)
        return TrainJob(
            str(self.report.root), str(out), split, self.folds.value(), config.to_dict(),
            labels_from_tags=tags,
        )  # fmt: skip

    # -- remembered settings ----------------------------------------------------------------
    def save(self, settings: Settings) -> None:
        settings.set(Key.TRAIN, json.dumps({
            "folder": self.folder.text(), "arch": self.arch.currentData(),
            "split": self.split.currentData(), "epochs": self.epochs.value(),
            "batch": self.batch.value(), "labels_from_tags": self.labels_from_tags.isChecked(),
            **{key: getattr(self, key).text() for key in _TEXT_FIELDS},
        }))  # fmt: skip

    def restore(self, settings: Settings) -> None:
        try:
            saved = json.loads(settings.get(Key.TRAIN) or "{}")
        except ValueError:
            return
        if not saved:
            return
        self.arch.setCurrentIndex(max(0, self.arch.findData(saved.get("arch"))))
        self.split.setCurrentIndex(max(0, self.split.findData(saved.get("split"))))
        self.epochs.setValue(int(saved.get("epochs", self.epochs.value())))
        self.batch.setValue(int(saved.get("batch", self.batch.value())))
        for key in _TEXT_FIELDS:
            if key in saved:
                getattr(self, key).setText(saved[key])
        self.labels_from_tags.blockSignals(True)  # the folder is read when chosen, not here
        self.labels_from_tags.setChecked(bool(saved.get("labels_from_tags", False)))
        self.labels_from_tags.blockSignals(False)
        if saved.get("folder"):
            self.folder.setText(saved["folder"])
