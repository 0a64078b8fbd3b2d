"""A strip with one coloured cell per 3 s window: the track's genre over time."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from mgr_desktop.gui.theme import genre_colour


class GenreTimeline(QWidget):
    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.segments: list[tuple[float, float, int, float]] = []  # start, end, label idx, conf
        self.labels: list[str] = []
        self.duration = 0.0
        self.position: float | None = None

    def set_segments(self, segments: list[object], labels: list[str], duration: float) -> None:
        index = {lab: i for i, lab in enumerate(labels)}
        # Overlapping windows: draw each from its start to the next one's start.
        starts = [s.start for s in segments] + [duration]  # type: ignore[attr-defined]
        self.segments = [  # label index -1: a silent segment, with no genre
            (starts[i], starts[i + 1], index.get(s.genre, -1), s.confidence)  # type: ignore[attr-defined]
            for i, s in enumerate(segments)
        ]
        self.labels, self.duration = labels, duration
        self.update()

    def clear(self) -> None:
        self.segments, self.duration, self.position = [], 0.0, None
        self.update()

    def set_position(self, seconds: float | None) -> None:
        self.position = seconds
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, self.palette().base())
        if self.duration > 0:
            scale = w / self.duration
            for start, end, idx, conf in self.segments:
                if idx < 0:
                    continue  # silence: the background shows through
                colour = QColor(genre_colour(idx))
                colour.setAlphaF(0.45 + 0.55 * min(max(conf, 0.0), 1.0))
                p.fillRect(QRectF(start * scale, 0, (end - start) * scale + 0.5, h), colour)
            if self.position is not None:
                p.setPen(self.palette().text().color())
                x = self.position * scale
                p.drawLine(int(x), 0, int(x), h)
        p.end()

    def _segment_at(self, x: float) -> tuple[float, float, int, float] | None:
        if self.duration <= 0:
            return None
        t = x / self.width() * self.duration
        return next((s for s in self.segments if s[0] <= t < s[1]), None)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        seg = self._segment_at(event.position().x())
        if seg:
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"{seg[0]:.1f}–{seg[1]:.1f} s: "
                + (f"{self.labels[seg[2]]} {seg[3]:.0%}" if seg[2] >= 0 else "no signal"),
                self,
            )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.duration > 0:
            self.seek_requested.emit(event.position().x() / self.width() * self.duration)
