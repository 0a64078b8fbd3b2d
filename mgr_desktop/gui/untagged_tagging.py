"""The Train tab's offer after a run on tag labels: "Tag untagged files…" classifies the
library's files that had no genre tag (the run's untagged.txt) with the run's model, off the
UI thread, then opens the write-tags dialog on those verdicts, where nothing is written
until the user presses Write."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from mgr_desktop.gui.settings import Settings
from mgr_desktop.train.runs import MODEL_FILE
from mgr_desktop.train.tag_dataset import read_untagged


class Classifier(QObject):
    """Classifies files with a model on a Python thread (a dropped panel must not take the
    process down with a running QThread); results arrive queued, as the dialog's requests."""

    progress = Signal(int, int)  # files done, files in all
    done = Signal(object)  # the verdicts (TrackResult, or TagRequest without a genre), in order
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()
        self.job: threading.Thread | None = None

    def start(self, model: str, paths: list[str]) -> None:
        self.job = threading.Thread(
            target=self._run, args=(model, paths), name="tag-untagged", daemon=True
        )
        self.job.start()

    def _run(self, model: str, paths: list[str]) -> None:
        from mgr_desktop.gui.write_tags_dialog import TagRequest
        from mgr_desktop.inference.engine import Engine, FileFailure

        try:
            engine = Engine.from_file(model)
            requests: list[Any] = []
            for item in engine.classify_files(paths):
                if self.stop.is_set():
                    return
                # a verdict as it is (the dialog reads its probabilities too); a file that
                # could not be classified gets no verdict, so nothing is written to it
                failed = isinstance(item, FileFailure)
                requests.append(TagRequest(item.path, None, 0.0) if failed else item)
                self.progress.emit(len(requests), len(paths))
        except Exception as e:  # the model or the device: one sentence for the tab
            self.failed.emit(f"Cannot classify the untagged files: {type(e).__name__}: {e}")
            return
        self.done.emit(requests)


class UntaggedPanel(QWidget):
    """A label and the button, shown for a selected run that listed untagged files."""

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.run_dir: Path | None = None
        self.files: list[str] = []
        self.dialog: Any = None  # the write-tags dialog, once opened
        self.classifier: Classifier | None = None
        self.button = QPushButton("Tag untagged files…")
        self.button.setToolTip(
            "Classify the files of this run's library that have no genre tag with the new "
            "model, and preview the genres to write into them"
        )
        self.button.clicked.connect(self.tag_untagged)
        self.label = QLabel("")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.label, 1)
        self.setVisible(False)

    @property
    def busy(self) -> bool:
        return self.classifier is not None

    def set_run(self, run_dir: Path | None) -> None:
        """The selected run (None: no finished run selected): shown when it trained on tag
        labels, enabled when it left untagged files."""
        if self.busy:
            return
        files = read_untagged(run_dir) if run_dir is not None else None
        model_ok = run_dir is not None and (run_dir / MODEL_FILE).exists()
        self.run_dir = run_dir
        self.files = files or []
        self.setVisible(files is not None and model_ok)
        self.button.setEnabled(bool(self.files))
        n = len(self.files)
        self.label.setText(f"{n} file{'s' * (n != 1)} without a genre tag" if n else
                           "every file had a genre tag")  # fmt: skip

    def tag_untagged(self) -> None:
        if self.busy or self.run_dir is None or not self.files:
            return
        self.classifier = Classifier()
        self.classifier.progress.connect(self._progress)
        self.classifier.done.connect(self._classified)
        self.classifier.failed.connect(self._failed)
        self.button.setEnabled(False)
        self.label.setText(f"classifying 0/{len(self.files)}…")
        self.classifier.start(str(self.run_dir / MODEL_FILE), list(self.files))

    def _progress(self, done: int, total: int) -> None:
        self.label.setText(f"classifying {done}/{total}…")

    def _classified(self, requests: list[Any]) -> None:
        from mgr_desktop.gui.write_tags_dialog import WriteTagsDialog

        self.classifier = None
        self.set_run(self.run_dir)
        self.dialog = WriteTagsDialog(requests, self.settings, self.window())
        self.dialog.open()  # window-modal, without a nested event loop

    def _failed(self, text: str) -> None:
        self.classifier = None
        self.set_run(self.run_dir)
        self.label.setText(text)

    def shutdown(self) -> None:
        if self.classifier is not None:
            self.classifier.stop.set()
