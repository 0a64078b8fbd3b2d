"""The files the user dropped or opened: status, verdict, confidence, and CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.safetext import csv_cell

QUEUED, ANALYSING, DONE, FAILED, WAITING = "queued", "analysing", "done", "error", "needs a model"
COLUMNS = ("File", "Genre", "Confidence", "Duration", "Status")
Index = QModelIndex | QPersistentModelIndex


@dataclass
class Row:
    path: str
    status: str = QUEUED
    result: Any = None  # TrackResult
    error: str = ""


class FileTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self._index: dict[str, int] = {}

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
                return Path(row.path).name
            if col == 1:
                if r is None:
                    return ""
                if r.genre is None:
                    return "no signal"
                return f"{r.genre}?" if r.uncertain else r.genre
            if col == 2:
                return f"{r.confidence:.0%}" if r and r.genre is not None else ""
            if col == 3:
                return f"{int(r.duration // 60)}:{r.duration % 60:04.1f}" if r else ""
            return f"error: {row.error}" if row.status == FAILED else row.status
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\n{row.error}" if row.error else row.path
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
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def row_for(self, path: str) -> Row | None:
        i = self._index.get(path)
        return self.rows[i] if i is not None else None

    def clear(self) -> None:
        self.beginResetModel()
        self.rows, self._index = [], {}
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
