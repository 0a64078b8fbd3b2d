"""File > Write genre to files…: a preview of what would change, a confidence threshold, and
the tags written on a worker thread with one status per row."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.audio.genre_tags import (
    TagError,
    Verdict,
    decide,
    genre_text,
    read_genre,
    write_genre,
)
from mgr_desktop.gui.settings import Key, Settings

COLUMNS = ("File", "Current genre tag", "New genre", "Confidence", "Status")
FILE, CURRENT, NEW, CONFIDENCE, STATUS = range(len(COLUMNS))
READING = "reading…"


@dataclass(frozen=True)
class TagRequest:
    """One classified file as the dialog needs it (a TrackResult works just as well)."""

    path: str
    genre: str | None
    confidence: float


class TagWorker(QObject):
    """Reads the current tags, then writes the chosen ones, each job on a Python thread.

    A plain thread rather than a QThread: a dialog dropped without being closed must not take
    the process down ('QThread destroyed while running'). The signals reach the dialog queued,
    and after it is gone they reach no one."""

    tag_read = Signal(int, object, str)  # row, current genre or None, error ("" if none)
    reading_done = Signal()
    written = Signal(int, object, str)  # row, the genre it had, error ("" = written)
    writing_done = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()
        self.job: threading.Thread | None = None

    def start(self, target: Callable[[list], None], items: list) -> None:
        self.job = threading.Thread(target=target, args=(items,), name="tag-writer", daemon=True)
        self.job.start()

    def join(self) -> None:
        self.stop.set()
        if self.job is not None and self.job is not threading.current_thread():
            self.job.join()

    def read(self, paths: list[str]) -> None:
        for row, path in enumerate(paths):
            if self.stop.is_set():
                return
            try:
                self.tag_read.emit(row, read_genre(path), "")
            except TagError as e:
                self.tag_read.emit(row, None, str(e))
        self.reading_done.emit()

    def write(self, jobs: list[tuple[int, str, str]]) -> None:
        for row, path, genre in jobs:
            if self.stop.is_set():
                return
            try:
                self.written.emit(row, write_genre(path, genre), "")
            except TagError as e:
                self.written.emit(row, None, str(e))
            except Exception as e:  # one odd file must not end the batch
                self.written.emit(row, None, f"{type(e).__name__}: {e}")
        self.writing_done.emit()


class WriteTagsDialog(QDialog):
    def __init__(
        self,
        results: Sequence[Verdict],
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write genre to files")
        self.resize(820, 480)
        self.settings = settings
        self.items = [TagRequest(r.path, r.genre, float(r.confidence)) for r in results]
        self.current: list[str | None] = [None] * len(self.items)
        self.errors: list[str] = [""] * len(self.items)
        self.outcome: list[str | None] = [None] * len(self.items)  # set once a row was written
        self.reading = self.writing = False
        self.finished_writing = False

        intro = QLabel(
            "Writes each file's genre verdict into its own genre tag (ID3, Vorbis comment or "
            "MP4). The audio is not changed. Only verdicts at or above the threshold are written."
        )
        intro.setWordWrap(True)
        self.threshold = QSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setSuffix(" %")
        default = 0.6 if settings is None else float(settings.get(Key.TAG_MIN_CONFIDENCE))
        self.threshold.setValue(round(min(max(default, 0.0), 1.0) * 100))
        self.threshold.valueChanged.connect(self._refresh)
        row = QHBoxLayout()
        row.addWidget(QLabel("Minimum confidence:"))
        row.addWidget(self.threshold)
        row.addStretch(1)
        self.summary = QLabel()
        row.addWidget(self.summary)

        self.table = QTableWidget(len(self.items), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Stretch)
        # The cells that change, kept: QTableWidget.item() is typed as possibly None.
        self.current_cells = [QTableWidgetItem(READING) for _ in self.items]
        self.status_cells = [QTableWidgetItem("") for _ in self.items]
        for i, item in enumerate(self.items):
            name = QTableWidgetItem(Path(item.path).name)
            name.setToolTip(item.path)
            self.table.setItem(i, FILE, name)
            self.table.setItem(i, CURRENT, self.current_cells[i])
            new = genre_text(item.genre) if item.genre is not None else "no verdict"
            self.table.setItem(i, NEW, QTableWidgetItem(new))
            conf = QTableWidgetItem(f"{item.confidence:.0%}" if item.genre is not None else "")
            conf.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, CONFIDENCE, conf)
            self.table.setItem(i, STATUS, self.status_cells[i])

        self.buttons = QDialogButtonBox()
        self.write_button = QPushButton("Write")
        self.write_button.setDefault(True)
        self.buttons.addButton(self.write_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.write_button.clicked.connect(self.write)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)

        self.worker = TagWorker()
        self.worker.tag_read.connect(self._on_read)
        self.worker.reading_done.connect(self._on_reading_done)
        self.worker.written.connect(self._on_written)
        self.worker.writing_done.connect(self._on_writing_done)
        self.reading = True
        self.worker.start(self.worker.read, [item.path for item in self.items])
        self._refresh()

    # -- state ------------------------------------------------------------------------------
    def min_confidence(self) -> float:
        return self.threshold.value() / 100.0

    def reason(self, row: int) -> str:
        """'' when this row would be written now; otherwise why not."""
        if self.errors[row]:
            return f"cannot tag: {self.errors[row]}"
        item = self.items[row]
        return decide(item.genre, item.confidence, self.current[row], self.min_confidence())

    def rows_to_write(self) -> list[int]:
        return [i for i in range(len(self.items)) if self.outcome[i] is None and not self.reason(i)]

    def _refresh(self) -> None:
        for i in range(len(self.items)):
            if self.outcome[i] is not None:
                continue
            text = self.reason(i) or ("will write" if not self.reading else "")
            if self.reading and self.current_cells[i].text() == READING:
                text = ""
            self.status_cells[i].setText(text)
        n = len(self.rows_to_write())
        if self.finished_writing:
            done = sum(o == "written" for o in self.outcome)
            failed = sum(o not in (None, "written") for o in self.outcome)
            self.summary.setText(f"{done} written, {failed} failed")
        elif self.reading:
            self.summary.setText("reading the current tags…")
        else:
            self.summary.setText(f"{n} of {len(self.items)} files will be tagged")
        self.write_button.setEnabled(not self.reading and not self.writing and n > 0)
        self.threshold.setEnabled(not self.writing)

    @Slot(int, object, str)
    def _on_read(self, row: int, genre: str | None, error: str) -> None:
        self.current[row], self.errors[row] = genre, error
        self.current_cells[row].setText(genre or ("?" if error else ""))

    @Slot()
    def _on_reading_done(self) -> None:
        self.reading = False
        self._refresh()

    # -- writing ----------------------------------------------------------------------------
    def write(self) -> None:
        if self.reading or self.writing:
            return
        if self.settings is not None:
            self.settings.set(Key.TAG_MIN_CONFIDENCE, self.min_confidence())
        jobs = []
        for i in self.rows_to_write():
            genre = self.items[i].genre
            assert genre is not None  # rows_to_write holds verdicts only
            jobs.append((i, self.items[i].path, genre_text(genre)))
            self.status_cells[i].setText("writing…")
        if not jobs:
            return
        self.writing = True
        self._refresh()
        self.worker.start(self.worker.write, jobs)

    @Slot(int, object, str)
    def _on_written(self, row: int, old: str | None, error: str) -> None:
        status = self.status_cells[row]
        if error:
            self.outcome[row] = f"failed: {error}"
            status.setText(f"failed: {error}")
            status.setToolTip(error)
        else:
            self.outcome[row] = "written"
            self.current[row] = genre_text(self.items[row].genre or "")
            self.current_cells[row].setText(self.current[row] or "")
            status.setText("written")

    @Slot()
    def _on_writing_done(self) -> None:
        self.writing = False
        self.finished_writing = True
        self.cancel_button.setText("Close")
        self._refresh()

    def is_busy(self) -> bool:
        return self.reading or self.writing

    # -- closing ----------------------------------------------------------------------------
    def stop_worker(self) -> None:
        """Stop the worker: a write in progress finishes its current file and stops."""
        self.worker.join()

    def done(self, result: int) -> None:
        self.stop_worker()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # also when closed while hidden
        self.stop_worker()
        super().closeEvent(event)
