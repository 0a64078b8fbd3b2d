"""The Files tab's list: the table of dropped/opened files and the status of each one's analysis,
its buttons, folders searched off the GUI thread, and columns as wide as their texts can get.

`FilesPanel` builds on this with the selected file's spectrogram, verdict and playback; the
hooks it extends (on_done, on_failed, clear, shutdown) do the list's part here.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui.file_table import (
    ANALYSING,
    CANCELLED,
    COLUMNS,
    DONE,
    FAILED,
    QUEUED,
    STATUSES,
    WAITING,
    FileTableModel,
    duration_text,
)
from mgr_desktop.safetext import escape, printable

NAME_SHARE = 0.4  # an error message widens the Status column only while names keep this share
log = logging.getLogger(__name__)


class Elide(QStyledItemDelegate):
    """A column's own elide mode (a table has one for all its columns)."""

    def __init__(self, mode: Qt.TextElideMode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode

    def initStyleOption(self, option: QStyleOptionViewItem, index: Any) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = self.mode  # type: ignore[attr-defined]


class FileListPanel(QWidget):
    classify_requested = Signal(object)  # paths: a list that Qt must not convert
    message = Signal(str)
    _scanned = Signal(object, object)  # files, problems: a folder search, done off this thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FileTableModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        # Texts read from their start ("error: not audio: the file is te…", "none (closest:…"):
        # the tooltip and the readout give all of it. A long name instead loses its start,
        # where a folder's names agree ("Artist - Album - 0"), and keeps its end, where they
        # differ (title and extension).
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._name_delegate = Elide(Qt.TextElideMode.ElideLeft, self.table)
        self.table.setItemDelegateForColumn(0, self._name_delegate)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        # Columns sized to what they can hold (computed from their possible texts, never by
        # measuring every row), and the file name takes the rest.
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        self._labels: list[str] = []
        self._longest_duration = 0.0
        self._longest_error = ""
        self._scanner: ThreadPoolExecutor | None = None
        self._scanned.connect(self._add_found)
        self.has_model = False

        self.add_files = QPushButton("Add files…")
        self.add_folder = QPushButton("Add folder…")
        self.export = QPushButton("Export CSV…")
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.empty_hint = QLabel("Drop audio files or folders here")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setEnabled(False)

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.table, 1)
        left.addWidget(self.empty_hint)
        buttons = QHBoxLayout()
        for b in (self.add_files, self.add_folder, self.export, self.clear_button):
            buttons.addWidget(b)
        left.addLayout(buttons)
        self.list_side = QWidget()  # the subclass places it (FilesPanel: a splitter's left)
        self.list_side.setLayout(left)
        self._fit_columns()

    # -- files ------------------------------------------------------------------------------
    def add_paths(self, paths: list[str]) -> None:
        """Files named directly are listed at once; folders are searched on a thread of their
        own (a big or slow folder must not stall the window), and listed when searched."""
        if any(Path(p).is_dir() for p in paths):
            if self._scanner is None:
                self._scanner = ThreadPoolExecutor(1, thread_name_prefix="folder-scan")
            self._scanner.submit(lambda: self._scanned.emit(*_search(paths)))
            return
        self._add_found(*_search(paths))

    def _add_found(self, files: list[Path], problems: list[Any]) -> None:
        listed = self.model.add([str(p) for p in files], QUEUED if self.has_model else WAITING)
        for prob in problems:
            self.model.add([prob.path])
            self.model.update(prob.path, FAILED, error=prob.reason)
            self._note_error(prob.reason)
        self.empty_hint.setVisible(not self.model.rows)
        if listed and self.has_model:
            self.classify_requested.emit(listed)
        if self.model.rows and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        if problems:
            self.message.emit(f"{printable(problems[0].path)}: {printable(problems[0].reason)}")

    def requeue_all(self) -> None:
        """A new model: analyse everything again with it."""
        live = (DONE, WAITING, QUEUED, ANALYSING, CANCELLED)
        paths = [r.path for r in self.model.rows if r.status in live]
        for p in paths:
            self.model.update(p, QUEUED)
        if paths:
            self.classify_requested.emit(paths)

    def mark_cancelled(self) -> None:
        """The user cancelled the batch: what it had not reached says so."""
        for r in self.model.rows:
            if r.status in (QUEUED, ANALYSING):
                self.model.update(r.path, CANCELLED)

    def on_started(self, path: str) -> None:
        self.model.update(path, ANALYSING)

    def on_done(self, path: str, result: Any) -> None:
        self.model.update(path, DONE, result)
        shown = max(self._longest_duration, 599.9)  # the column fits "9:59.9" from the start
        if len(duration_text(result.duration)) > len(duration_text(shown)):
            self._longest_duration = result.duration
            self._fit_columns()

    def on_failed(self, path: str, reason: str) -> None:
        self.model.update(path, FAILED, error=reason)
        self._note_error(reason)

    def clear(self) -> None:
        self.model.clear()
        self.empty_hint.setVisible(True)

    def shutdown(self) -> None:
        """The window closes: drop any folder search still to run."""
        if self._scanner is not None:
            self._scanner.shutdown(wait=False, cancel_futures=True)

    def file_count(self) -> int:
        return len(self.model.rows)

    # -- column widths ------------------------------------------------------------------------
    def _set_genre_labels(self, labels: list[str]) -> None:
        """A new model's genres: the Genre column fits the longest of them."""
        self._labels = labels
        self._fit_columns()

    def _note_error(self, reason: str) -> None:
        if len(reason) > len(self._longest_error):
            self._longest_error = reason
            self._fit_columns()

    def _fit_columns(self) -> None:
        """Genre, Confidence, Duration and Status as wide as their longest possible text; a
        long error message only as far as it leaves the file names NAME_SHARE of the table
        (beyond that it is elided; the tooltip has all of it)."""
        header = self.table.horizontalHeader()
        fm, hfm = self.table.fontMetrics(), header.fontMetrics()
        style = self.table.style()
        pad = 2 * style.pixelMetric(style.PixelMetric.PM_FocusFrameHMargin, None, self.table) + 12
        hpad = 2 * style.pixelMetric(style.PixelMetric.PM_HeaderMargin, None, header) + 12

        def width(col: int, texts: list[str]) -> int:
            content = max((fm.horizontalAdvance(t) for t in texts), default=0) + pad
            return max(content, hfm.horizontalAdvance(COLUMNS[col]) + hpad)

        genres = ["no signal", *(f"{g}?" for g in self._labels)]
        widths = {
            1: width(1, genres),
            2: width(2, ["100%"]),
            3: width(3, [duration_text(max(self._longest_duration, 599.9))]),
            4: width(4, [s for s in STATUSES if s != FAILED]),
        }
        if self._longest_error:
            table = self.table.viewport().width()
            room = table - sum(widths.values()) + widths[4] - int(NAME_SHARE * table)
            error = width(4, [f"error: {self._longest_error}"])
            widths[4] = max(widths[4], min(error, room))
        for col, w in widths.items():
            if header.sectionSize(col) != w:
                header.resizeSection(col, w)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit_for_errors()

    def _refit_for_errors(self, *_: object) -> None:
        if self._longest_error:  # the room an error may take depends on the table's width
            self._fit_columns()


def _search(paths: list[str]) -> tuple[list[Path], list[Any]]:
    """expand_inputs, and should it fail all the same, one row per path saying why: a search
    that dies on its thread would otherwise leave the window doing nothing."""
    from mgr_desktop.audio.input_files import InputProblem, expand_inputs

    try:
        return expand_inputs(paths)
    except Exception as e:
        log.exception("searching %s", paths)
        reason = f"cannot search: {type(e).__name__}: {escape(str(e))}"
        return [], [InputProblem(p, reason) for p in paths]
