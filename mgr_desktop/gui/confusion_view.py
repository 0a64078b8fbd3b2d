"""The test confusion matrix, painted: genre names on both sides, each cell's count, coloured
by its share of the row (the true genre's recall).

Painted rather than a pyqtgraph plot: a plot's axes are numbers (an empty one showed
"−500…500 (x0.001)"), and its tick labels are horizontal, so ten genre names under ten
columns ran together ("bluesclassical"). Here the predicted genres' names stand upright when
they do not fit a column, and a name that still has no room is left out rather than drawn
over its neighbour; hovering a cell names both genres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from mgr_desktop.gui.spectrogram_view import lookup_table

_A = Qt.AlignmentFlag
PLACEHOLDER = "The test's confusion matrix appears here when a run has finished."
_PAD = 6.0
_MAX_LABEL_SHARE = 0.35  # of the width (true genres) or height (predicted): longer is elided


@dataclass(frozen=True)
class _Geometry:
    grid: QRectF  # the cells
    cell: float  # a cell's side, in pixels
    upright: bool  # the predicted genres' names turned 90°
    row_label_width: float
    column_label_height: float
    every: int  # a name on every `every`-th row and column (1: all)


class ConfusionView(QWidget):
    def __init__(self, title: str = "test confusion (tracks)", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.labels: list[str] = []
        self.counts: np.ndarray | None = None  # (true, predicted) track counts
        self.rows: np.ndarray | None = None  # each row as shares of its true genre
        self._lut = lookup_table("viridis")
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- data -------------------------------------------------------------------------------
    def set_matrix(self, labels: list[str], counts: Any) -> None:
        self.labels = list(labels)
        self.counts = np.asarray(counts, dtype=float)
        self.rows = self.counts / np.maximum(self.counts.sum(1, keepdims=True), 1)
        self.update()

    def clear(self) -> None:
        self.labels, self.counts, self.rows = [], None, None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 360)

    # -- geometry (shared by painting, hovering and the tests) -------------------------------
    def _label_font(self) -> QFont:
        return self.font()

    def _title_height(self) -> float:
        return QFontMetricsF(self.font()).height() + _PAD

    def _geometry(self) -> _Geometry | None:
        if not self.labels:
            return None
        fm = QFontMetricsF(self._label_font())
        n = len(self.labels)
        widest = max(fm.horizontalAdvance(lab) for lab in self.labels)
        row_w = min(widest, self.width() * _MAX_LABEL_SHARE)
        axis = fm.height()  # the rotated "true" and the "predicted" under the names
        top = self._title_height()
        free_w = self.width() - 2 * _PAD - axis - row_w - _PAD
        # Names side by side when each fits its column, else upright (a column's width need
        # only hold the text's height then).
        upright = widest + _PAD > free_w / n
        col_h = min(widest, self.height() * _MAX_LABEL_SHARE) if upright else fm.height()
        free_h = self.height() - top - _PAD - col_h - _PAD - axis
        cell = max(1.0, min(free_w / n, free_h / n))
        left = 2 * _PAD + axis + row_w + (free_w - cell * n) / 2
        grid = QRectF(left, top, cell * n, cell * n)
        every = max(1, int(np.ceil(fm.height() / cell)))  # too small a pitch: every k-th name
        return _Geometry(grid, cell, upright, row_w, col_h, every)

    def label_rects(self) -> list[tuple[str, QRectF]]:
        """Each genre name as painted, with the rectangle its text covers (in this widget's
        coordinates, after any rotation): the true genres', then the predicted genres'."""
        g = self._geometry()
        if g is None:
            return []
        fm = QFontMetricsF(self._label_font())
        out = []
        for i, lab in enumerate(self.labels):
            if i % g.every:
                continue
            text = fm.elidedText(lab, Qt.TextElideMode.ElideRight, g.row_label_width)
            w, y = fm.horizontalAdvance(text), g.grid.top() + (i + 0.5) * g.cell
            rect = QRectF(g.grid.left() - _PAD - w, y - fm.height() / 2, w, fm.height())
            out.append((text, rect))
        for j, lab in enumerate(self.labels):
            if j % g.every:
                continue
            room = g.column_label_height if g.upright else g.cell
            text = fm.elidedText(lab, Qt.TextElideMode.ElideRight, room)
            w, x = fm.horizontalAdvance(text), g.grid.left() + (j + 0.5) * g.cell
            top = g.grid.bottom() + _PAD
            rect = (
                QRectF(x - fm.height() / 2, top, fm.height(), w)
                if g.upright
                else QRectF(x - w / 2, top, w, fm.height())
            )
            out.append((text, rect))
        return out

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """(true, predicted) of the cell under `pos`."""
        g = self._geometry()
        if g is None or not g.grid.contains(pos):
            return None
        n = len(self.labels)
        i = min(n - 1, int((pos.y() - g.grid.top()) / g.cell))
        j = min(n - 1, int((pos.x() - g.grid.left()) / g.cell))
        return i, j

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.Text)
        p.setPen(text)
        p.drawText(QRectF(0, 0, self.width(), self._title_height()), _A.AlignCenter, self.title)
        g = self._geometry()
        if g is None or self.rows is None or self.counts is None:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            flags = _A.AlignCenter | Qt.TextFlag.TextWordWrap
            p.drawText(self.rect().adjusted(12, 0, -12, 0), flags, PLACEHOLDER)
            return
        self._paint_cells(p, g)
        p.setPen(text)
        self._paint_labels(p, g)
        p.end()

    def _paint_cells(self, p: QPainter, g: _Geometry) -> None:
        assert self.rows is not None and self.counts is not None
        n = len(self.labels)
        fm = QFontMetricsF(self.font())
        for i in range(n):
            for j in range(n):
                share = float(self.rows[i, j])
                rgb = self._lut[min(255, int(share * 255))]
                cell = QRectF(g.grid.left() + j * g.cell, g.grid.top() + i * g.cell, g.cell, g.cell)
                p.fillRect(cell, QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
                count = str(int(self.counts[i, j]))
                if self.counts[i, j] and fm.horizontalAdvance(count) < g.cell - 2:
                    p.setPen(QColor("black") if share > 0.6 else QColor("white"))
                    p.drawText(cell, _A.AlignCenter, count)

    def _paint_labels(self, p: QPainter, g: _Geometry) -> None:
        n = len(self.labels)
        for k, (text, rect) in enumerate(self.label_rects()):
            row = k < (n + g.every - 1) // g.every
            if row or not g.upright:
                align = _A.AlignRight if row else _A.AlignHCenter
                p.drawText(rect, align | _A.AlignVCenter, text)
                continue
            p.save()  # upright: read from the bottom up, the name's end against the grid
            p.translate(rect.center())
            p.rotate(-90)
            h, w = rect.width(), rect.height()
            p.drawText(QRectF(-w / 2, -h / 2, w, h), _A.AlignRight | _A.AlignVCenter, text)
            p.restore()
        fm = QFontMetricsF(self.font())
        below = g.grid.bottom() + _PAD + g.column_label_height
        p.drawText(
            QRectF(g.grid.left(), below, g.grid.width(), fm.height()), _A.AlignCenter, "predicted"
        )
        p.save()
        p.translate(_PAD + fm.height() / 2, g.grid.center().y())
        p.rotate(-90)
        p.drawText(
            QRectF(-g.grid.height() / 2, -fm.height() / 2, g.grid.height(), fm.height()),
            _A.AlignCenter,
            "true",
        )
        p.restore()

    # -- hovering ---------------------------------------------------------------------------
    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip and isinstance(e, QHelpEvent):
            cell = self.cell_at(QPointF(e.pos()))
            if cell is None or self.counts is None or self.rows is None:
                QToolTip.hideText()
            else:
                i, j = cell
                true, predicted = self.labels[i], self.labels[j]
                share = f"{self.rows[i, j]:.0%} of {true}"
                text = (
                    f"true {true}, predicted {predicted}: {int(self.counts[i, j])} tracks ({share})"
                )
                QToolTip.showText(e.globalPos(), text, self)
            return True
        return super().event(e)
