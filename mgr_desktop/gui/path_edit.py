"""A line edit for a folder path that, while not being edited, shows a long path shortened
in the middle, whole folder names kept ("/home/…/gtzan/genres_original"): its ends say which
folder it is; a line edit alone shows whichever stretch its cursor left in view. The text
itself is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLineEdit, QStyle, QStyleOptionFrame, QWidget

_TEXT_MARGIN = 2  # QLineEdit's own horizontal margin inside its contents rect


def elide_path(path: str, fits: Callable[[str], bool]) -> str:
    """`path`, or the longest "head/…/tail" of it that `fits`: the tail as many whole
    trailing folders as fit, the head its first folder when there is room. Failing those, the
    end of the last name."""
    if fits(path):
        return path
    sep = "\\" if "\\" in path and "/" not in path else "/"
    parts = path.split(sep)
    head = sep.join(parts[:2])  # "/home" of "/home/…", "C:\\Users" of "C:\\Users\\…"
    for k in range(len(parts) - 2, 0, -1):
        tail = sep.join(parts[-k:])
        for shown in (f"{head}{sep}…{sep}{tail}", f"…{sep}{tail}"):
            if fits(shown):
                return shown
    last = parts[-1]
    while last and not fits(f"…{last}"):
        last = last[1:]
    return f"…{last}"


class PathEdit(QLineEdit):
    """`hint` is the tooltip; once a path is in, the tooltip starts with all of it."""

    def __init__(self, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = hint
        self.setToolTip(hint)
        self.textChanged.connect(
            lambda text: self.setToolTip(f"{text}\n\n{hint}" if text and hint else text or hint)
        )

    def _contents(self) -> QRect:
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, self)
        return rect.adjusted(_TEXT_MARGIN, 0, -_TEXT_MARGIN, 0)

    def shown_text(self) -> str:
        """What is on screen: the text, elided in the middle when it is long and the field
        is not being edited."""
        if self.hasFocus():
            return self.text()
        width, fm = self._contents().width(), self.fontMetrics()
        return elide_path(self.text(), lambda text: fm.horizontalAdvance(text) <= width)

    def paintEvent(self, event: Any) -> None:
        shown = self.shown_text()
        if shown == self.text():
            super().paintEvent(event)
            return
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        p = QPainter(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, opt, p, self)
        p.setPen(self.palette().color(QPalette.ColorRole.Text))
        p.drawText(self._contents(), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                   shown)  # fmt: skip
        p.end()
