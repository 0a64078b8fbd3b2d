"""The verdict: the top genre in large type, its confidence, and one bar per genre."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from mgr_desktop.gui.row_summary import SegmentSummary
from mgr_desktop.gui.theme import genre_colour
from mgr_desktop.inference.results import Segment
from mgr_desktop.verdict import OUTSIDE_TEXT, UNCERTAIN_BELOW


class GenreReadout(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.genre = QLabel("—")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 2.6)
        font.setBold(True)
        self.genre.setFont(font)
        self.genre.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence = QLabel("")
        self.confidence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid = QGridLayout()
        self.grid.setVerticalSpacing(3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.genre)
        layout.addWidget(self.confidence)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.bars: dict[str, QProgressBar] = {}
        self.labels: list[str] = []

    def set_labels(self, labels: list[str]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.labels = list(labels)
        self.bars = {}
        for row, label in enumerate(self.labels):
            name = QLabel(label)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setFixedHeight(max(10, self.fontMetrics().height() - 4))
            bar.setStyleSheet(f"QProgressBar::chunk {{ background: {genre_colour(row).name()}; }}")
            self.grid.addWidget(name, row, 0)
            self.grid.addWidget(bar, row, 1)
            self.bars[label] = bar
        self.clear()

    def clear(self, message: str = "—") -> None:
        self.genre.setText(message)
        self.confidence.setText("")
        for bar in self.bars.values():
            bar.setValue(0)

    def show_no_signal(self, caption: str = "") -> None:
        """Silence or near-silence: no genre is claimed."""
        self.clear("no signal")
        self.confidence.setText(
            "the audio is silent or nearly so" + (f"\n{caption}" if caption else "")
        )

    def show_segment(self, genre: str, confidence: float, caption: str = "") -> None:
        """One segment known only by its genre and confidence (before its full probabilities
        are there): the headline and the bars both say that segment, never the whole track."""
        self.genre.setText(genre)
        self.confidence.setText(
            f"{confidence:.0%} in this segment" + (f"\n{caption}" if caption else "")
        )
        for label, bar in self.bars.items():
            bar.setValue(round(confidence * 1000) if label == genre else 0)

    def show_outside(
        self,
        probabilities: dict[str, float],
        caption: str = "",
        tags: dict[str, float] | None = None,
    ) -> None:
        """None of the model's genres: say so, name the closest and the music's own tags."""
        self.show_probabilities(probabilities, caption, tags)
        closest = max(probabilities.items(), key=lambda kv: kv[1])[0] if probabilities else ""
        self.genre.setText(OUTSIDE_TEXT)
        lines = [f"closest: {closest}" if closest else ""]
        if tags:
            lines.append(" · ".join(tags))
        if caption:
            lines.append(caption)
        self.confidence.setText("\n".join(line for line in lines if line))

    def show_probabilities(
        self,
        probabilities: dict[str, float],
        caption: str = "",
        tags: dict[str, float] | None = None,
    ) -> None:
        if not probabilities:
            return
        if list(probabilities) != self.labels:
            self.set_labels(list(probabilities))
        top = sorted(probabilities.items(), key=lambda kv: -kv[1])[:3]
        (best, p_best), (second, p_second) = top[0], top[1]
        if p_best < UNCERTAIN_BELOW:  # say so, and name the two leading genres
            self.genre.setText(f"{best} or {second}?")
            head = f"uncertain: {best} {p_best:.0%}, {second} {p_second:.0%}"
        else:
            self.genre.setText(best)
            runners = ", ".join(f"{g} {p:.0%}" for g, p in top[1:])
            head = f"{p_best:.0%} confident · then {runners}"
        lines = [head]
        if tags:
            lines.append(" · ".join(tags))
        if caption:
            lines.append(caption)
        self.confidence.setText("\n".join(lines))
        for label, p in probabilities.items():
            self.bars[label].setValue(round(p * 1000))
            self.bars[label].setToolTip(f"{label}: {p:.1%}")

    def show_track_segment(self, seg: Segment, labels: list[str], pos: float) -> None:
        """A full result's segment, playing at `pos` s: its whole probability vector, or why
        there is none."""
        caption = _caption(seg, pos)
        probs = {lab: float(p) for lab, p in zip(labels, seg.probabilities, strict=True)}
        if seg.outside and labels:
            self.show_outside(probs, caption)
        elif seg.genre is None or not labels:
            self.show_no_signal(caption)
        else:
            self.show_probabilities(probs, caption)

    def show_summary_segment(self, seg: SegmentSummary, pos: float) -> None:
        """A table summary's segment, playing at `pos` s: its genre and confidence only."""
        caption = _caption(seg, pos)
        if seg.outside:
            self.clear(OUTSIDE_TEXT)
            self.confidence.setText(caption)
        elif seg.genre is None:
            self.show_no_signal(caption)
        else:
            self.show_segment(seg.genre, seg.confidence, caption)


def _caption(seg: Segment | SegmentSummary, pos: float) -> str:
    return f"at {pos:.1f} s (segment {seg.start:.1f}–{seg.end:.1f} s)"
