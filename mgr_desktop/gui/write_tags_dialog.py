"""File > Write genre to files…: a preview of what would change (with each file's current
genres), a confidence threshold, whether to replace genres files already have, the names the
user's library gives the genres (saved), and the tags written on a worker thread with one
status per row. What is written is decided by `audio.genre_tags`, as for the CLI."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
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

from mgr_desktop.atomic import SweepOnce
from mgr_desktop.audio.genre_names import load_names, save_names
from mgr_desktop.audio.genre_tags import (
    KEPT,
    MP4_SEPARATOR,
    TagError,
    Verdict,
    choose,
    decide,
    genre_text,
    read_genre,
    sweep_leftovers,
    tag_file,
)
from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.gui.tag_request import TagRequest, tag_request
from mgr_desktop.inference.result_cache import ResultCache

COLUMNS = ("File", "Current genre tag", "New genre", "Confidence", "Status")
FILE, CURRENT, NEW, CONFIDENCE, STATUS = range(len(COLUMNS))
NAME_COLUMNS = ("Model genre", "Written as")
LABEL, NAME = range(len(NAME_COLUMNS))
READING = "reading…"


class TagWorker(QObject):
    """Reads the current tags, then writes the chosen ones, each job on a Python thread.

    A plain thread rather than a QThread: a dialog dropped without being closed must not take
    the process down ('QThread destroyed while running'). The signals reach the dialog queued,
    and after it is gone they reach no one."""

    tag_read = Signal(int, object, str)  # row, current genre or None, error ("" if none)
    reading_done = Signal()
    written = Signal(int, object, str)  # row, the genre it had, error ("" = written)
    writing_done = Signal(int)  # temporary copies that interrupted runs had left, removed

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

    def write(self, jobs: list[tuple[int, TagRequest, tuple[str, ...]]]) -> None:
        # As `classify --write-tags` does: leftovers swept once per folder, and each written
        # file's cached verdicts kept under its new identity (the audio is unchanged).
        sweep, removed = SweepOnce(sweep_leftovers), 0
        with ResultCache() as cache:  # this thread's connection
            for row, item, genres in jobs:
                if self.stop.is_set():
                    return
                removed += len(sweep(item.path)[1])
                self._write_one(row, item, genres, cache)
        self.writing_done.emit(removed)

    def _write_one(self, row: int, item: TagRequest, genres: tuple[str, ...], cache: ResultCache,
                   ) -> None:  # fmt: skip
        try:
            old, key = tag_file(item.path, genres, expect=item.source)
            if item.source is not None:
                cache.rekey(item.source, key)
            self.written.emit(row, old, "")
        except TagError as e:
            self.written.emit(row, None, str(e))
        except Exception as e:  # one odd file must not end the batch
            self.written.emit(row, None, f"{type(e).__name__}: {e}")


class WriteTagsDialog(QDialog):
    def __init__(
        self,
        results: Sequence[Verdict],
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write genre to files")
        self.resize(1040, 500)
        self.settings = settings
        self.items = [tag_request(r) for r in results]
        self.names: dict[str, str] = load_names()
        self.current: list[str | None] = [None] * len(self.items)
        self.errors: list[str] = [""] * len(self.items)
        self.new: list[tuple[str, ...]] = [() for _ in self.items]  # what would be written
        self.outcome: list[str | None] = [None] * len(self.items)  # set once a row was written
        self.reading = self.writing = False
        self.finished_writing = False
        self.swept = 0

        intro = QLabel(
            "Writes each file's genre verdict into its own genre tag (ID3, Vorbis comment or "
            "MP4); a second genre too when the music is between two. The audio is not changed. "
            "Only verdicts at or above the threshold are written, and only into files without "
            "genres unless you choose to replace them."
        )
        intro.setWordWrap(True)
        self.threshold = QSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setSuffix(" %")
        default = 0.6 if settings is None else float(settings.get(Key.TAG_MIN_CONFIDENCE))
        self.threshold.setValue(round(min(max(default, 0.0), 1.0) * 100))
        self.threshold.valueChanged.connect(self._refresh)
        self.replace = QCheckBox("Replace genres files already have")
        self.replace.setChecked(False)  # never remembered: replacing is asked for each time
        self.replace.toggled.connect(self._refresh)
        row = QHBoxLayout()
        row.addWidget(QLabel("Minimum confidence:"))
        row.addWidget(self.threshold)
        row.addSpacing(16)
        row.addWidget(self.replace)
        row.addStretch(1)
        self.summary = QLabel()
        row.addWidget(self.summary)

        self.table = self._files_table()
        names_box = self._names_box()
        tables = QHBoxLayout()
        tables.addWidget(self.table, 1)
        tables.addLayout(names_box)

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
        layout.addLayout(tables, 1)
        layout.addWidget(self.buttons)

        self.worker = TagWorker()
        self.worker.tag_read.connect(self._on_read)
        self.worker.reading_done.connect(self._on_reading_done)
        self.worker.written.connect(self._on_written)
        self.worker.writing_done.connect(self._on_writing_done)
        self.reading = True
        self.worker.start(self.worker.read, [item.path for item in self.items])
        self._refresh()

    def _files_table(self) -> QTableWidget:
        table = QTableWidget(len(self.items), len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.verticalHeader().setVisible(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Stretch)
        # The cells that change, kept: QTableWidget.item() is typed as possibly None.
        self.current_cells = [QTableWidgetItem(READING) for _ in self.items]
        self.new_cells = [QTableWidgetItem("") for _ in self.items]
        self.status_cells = [QTableWidgetItem("") for _ in self.items]
        for i, item in enumerate(self.items):
            name = QTableWidgetItem(Path(item.path).name)
            name.setToolTip(item.path)
            table.setItem(i, FILE, name)
            table.setItem(i, CURRENT, self.current_cells[i])
            table.setItem(i, NEW, self.new_cells[i])
            conf = QTableWidgetItem(f"{item.confidence:.0%}" if item.genre is not None else "")
            conf.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(i, CONFIDENCE, conf)
            table.setItem(i, STATUS, self.status_cells[i])
        return table

    def _names_box(self) -> QVBoxLayout:
        """The model's genres and the names written for them: double-click to edit, saved at
        once for the next time (and for the command line); an empty name means the default."""
        labels = sorted(
            {item.genre for item in self.items if item.genre is not None}
            | {lab for item in self.items for lab in item.probabilities}
        )
        self.name_labels = labels
        self.names_table = QTableWidget(len(labels), len(NAME_COLUMNS))
        self.names_table.setHorizontalHeaderLabels(NAME_COLUMNS)
        self.names_table.verticalHeader().setVisible(False)
        self.names_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.names_table.setMinimumWidth(260)
        for i, label in enumerate(labels):
            cell = QTableWidgetItem(label)
            cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.names_table.setItem(i, LABEL, cell)
            self.names_table.setItem(i, NAME, QTableWidgetItem(genre_text(label, self.names)))
        self.names_table.itemChanged.connect(self._on_name_edited)
        self.names_note = QLabel("Genre names (double-click to change; saved):")
        self.names_note.setWordWrap(True)
        box = QVBoxLayout()
        box.addWidget(self.names_note)
        box.addWidget(self.names_table, 1)
        return box

    # -- state ------------------------------------------------------------------------------
    def min_confidence(self) -> float:
        return self.threshold.value() / 100.0

    def reason(self, row: int) -> str:
        """'' when this row would be written now; otherwise why not."""
        if self.errors[row]:
            return f"cannot tag: {self.errors[row]}"
        new, skip = choose(self.items[row], self.min_confidence(), self.names)
        if skip:
            return skip
        skip = decide(new, self.current[row], self.replace.isChecked())
        return f"kept: {KEPT}" if skip == KEPT else skip

    def rows_to_write(self) -> list[int]:
        return [i for i in range(len(self.items)) if self.outcome[i] is None and not self.reason(i)]

    def _new_text(self, row: int) -> str:
        item = self.items[row]
        new, skip = choose(item, self.min_confidence(), self.names)
        self.new[row] = new
        if new:
            return MP4_SEPARATOR.join(new)
        return genre_text(item.genre, self.names) if item.genre is not None else skip

    def _refresh(self) -> None:
        for i in range(len(self.items)):
            if self.outcome[i] is not None:
                continue
            self.new_cells[i].setText(self._new_text(i))
            text = self.reason(i)
            if not text and not self.reading:
                text = "will write" if self.current[i] is None else "will replace"
            if self.reading and self.current_cells[i].text() == READING:
                text = ""
            self.status_cells[i].setText(text)
        n = len(self.rows_to_write())
        if self.finished_writing:
            done = sum(o == "written" for o in self.outcome)
            failed = sum(o not in (None, "written") for o in self.outcome)
            copies = "copy" if self.swept == 1 else "copies"
            swept = f"; {self.swept} temporary {copies} left by an interrupted run removed"
            self.summary.setText(f"{done} written, {failed} failed{swept * bool(self.swept)}")
        elif self.reading:
            self.summary.setText("reading the current tags…")
        else:
            self.summary.setText(f"{n} of {len(self.items)} files will be tagged")
        self.write_button.setEnabled(not self.reading and not self.writing and n > 0)
        for widget in (self.threshold, self.replace, self.names_table):
            widget.setEnabled(not self.writing)

    @Slot(int, object, str)
    def _on_read(self, row: int, genre: str | None, error: str) -> None:
        self.current[row], self.errors[row] = genre, error
        self.current_cells[row].setText(genre or ("?" if error else ""))

    @Slot()
    def _on_reading_done(self) -> None:
        self.reading = False
        self._refresh()

    # -- names ------------------------------------------------------------------------------
    @Slot(QTableWidgetItem)
    def _on_name_edited(self, cell: QTableWidgetItem) -> None:
        if cell.column() != NAME:
            return
        label = self.name_labels[cell.row()]
        name = cell.text().strip()
        if not name or name == genre_text(label):  # the default spelling: nothing to remember
            self.names.pop(label, None)
        else:
            self.names[label] = name
        self.names_table.blockSignals(True)
        cell.setText(genre_text(label, self.names))
        self.names_table.blockSignals(False)
        try:
            save_names(self.names)
            self.names_note.setText("Genre names (double-click to change; saved):")
        except OSError as e:
            self.names_note.setText(f"Genre names (not saved: {e.strerror or e}):")
        self._refresh()

    # -- writing ----------------------------------------------------------------------------
    def write(self) -> None:
        if self.reading or self.writing:
            return
        if self.settings is not None:
            self.settings.set(Key.TAG_MIN_CONFIDENCE, self.min_confidence())
        jobs = []
        for i in self.rows_to_write():
            self.new[i] = choose(self.items[i], self.min_confidence(), self.names)[0]
            jobs.append((i, self.items[i], self.new[i]))
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
            self.current[row] = MP4_SEPARATOR.join(self.new[row])
            self.current_cells[row].setText(self.current[row] or "")
            status.setText("written")

    @Slot(int)
    def _on_writing_done(self, swept: int) -> None:
        self.swept = swept
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
