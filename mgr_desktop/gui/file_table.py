"""The files the user dropped or opened: status, verdict, confidence, and CSV export.

Each row keeps a compact summary of its result (`row_summary.ResultSummary`). Row changes are
coalesced: however fast results arrive, the view hears of them at most every FLUSH_MS, in one
dataChanged over the rows that changed.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.safetext import csv_cell, printable

QUEUED, ANALYSING, DONE, FAILED, WAITING = "queued", "analysing", "done", "error", "needs a model"
CANCELLED = "cancelled"
STATUSES = (QUEUED, ANALYSING, DONE, FAILED, WAITING, CANCELLED)
COLUMNS = ("File", "Genre", "Confidence", "Duration", "Status")
FLUSH_MS = 100  # the view hears of changed rows at most this often
Index = QModelIndex | QPersistentModelIndex


@dataclass(slots=True)
class Row:
    path: str
    status: str = QUEUED
    result: Any = None  # ResultSummary (or a TrackResult)
    error: str = ""
    name: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        # Shown escaped: a name may hold a newline, a bidi override or bytes that are not UTF-8
        self.name = self.name or printable(Path(self.path).name)


def duration_text(seconds: float) -> str:
    """m:ss, whole seconds down, as the player's clock shows the same file (3:17, not 3:18.0)."""
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def status_text(row: Row) -> str:
    return f"error: {row.error}" if row.status == FAILED else row.status


class FileTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._dirty: tuple[int, int] | None = None  # first and last changed row not yet told
        self._last_flush = 0.0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self.flush)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt)
        return len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        r = row.result
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.name
            if col == 1:
                if r is None:
                    return ""
                if getattr(r, "outside", False):
                    return f"none (closest: {r.top(1)[0][0]})"
                if r.genre is None:
                    return "no signal"
                return f"{r.genre}?" if r.uncertain else r.genre
            if col == 2:
                return f"{r.confidence:.0%}" if r and r.genre is not None else ""
            if col == 3:
                return duration_text(r.duration) if r else ""
            return status_text(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            path = printable(row.path)
            return f"{path}\n{printable(row.error)}" if row.error else path
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def add(self, paths: list[str], status: str = QUEUED) -> list[str]:
        """Append paths not already listed; returns the new ones."""
        new = [p for p in paths if p not in self._index]
        if new:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(new) - 1)
            for p in new:
                self._index[p] = len(self.rows)
                self.rows.append(Row(p, status))
            self.endInsertRows()
        return new

    def update(self, path: str, status: str, result: Any = None, error: str = "") -> None:
        i = self._index.get(path)
        if i is None:
            return
        row = self.rows[i]
        row.status, row.error = status, error
        if result is not None or status != DONE:
            row.result = result
        self._changed(i)

    def _changed(self, i: int) -> None:
        lo, hi = self._dirty or (i, i)
        self._dirty = (min(lo, i), max(hi, i))
        if not self._flush_timer.isActive():
            wait = FLUSH_MS - 1000 * (time.monotonic() - self._last_flush)
            self._flush_timer.start(max(0, int(wait)))

    def flush(self) -> None:
        """Tell the view about every row changed since the last time, in one signal."""
        self._flush_timer.stop()
        dirty, self._dirty = self._dirty, None
        self._last_flush = time.monotonic()
        if dirty is not None and dirty[1] < len(self.rows):
            self.dataChanged.emit(self.index(dirty[0], 0), self.index(dirty[1], len(COLUMNS) - 1))

    def row_for(self, path: str) -> Row | None:
        i = self._index.get(path)
        return self.rows[i] if i is not None else None

    def clear(self) -> None:
        self.beginResetModel()
        self.rows, self._index, self._dirty = [], {}, None
        self.endResetModel()

    def to_csv(self) -> str:
        labels = next((list(r.result.probabilities) for r in self.rows if r.result), [])
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(
            [
                "path",
                "genre",
                "confidence",
                "duration",
                *(csv_cell(f"p_{x}") for x in labels),
                "status",
                "error",
            ]
        )
        for r in self.rows:
            res = r.result
            probs = (
                [f"{res.probabilities.get(x, 0):.4f}" for x in labels]
                if res
                else [""] * len(labels)
            )
            w.writerow(
                [
                    csv_cell(r.path),  # names and labels are data, never spreadsheet formulas
                    csv_cell(res.genre or "") if res else "",
                    f"{res.confidence:.4f}" if res else "",
                    f"{res.duration:.2f}" if res else "",
                    *probs,
                    csv_cell(r.status),
                    csv_cell(r.error),
                ]
            )
        return out.getvalue()

    def export_csv(self, path: str) -> None:
        write_text_atomic(path, self.to_csv())
