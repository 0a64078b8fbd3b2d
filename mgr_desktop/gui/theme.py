"""Light/dark palettes (Fusion), and pyqtgraph colours that follow them."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


def apply_theme(app: QApplication, theme: str) -> bool:
    """theme: system, dark or light. Returns whether the result is dark."""
    app.setStyle("Fusion")
    dark = theme == "dark" or (
        theme == "system" and QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    )
    app.setPalette(_dark_palette() if dark else app.style().standardPalette())
    pal = app.palette()
    pg.setConfigOptions(
        background=pal.color(QPalette.ColorRole.Base),
        foreground=pal.color(QPalette.ColorRole.Text),
        antialias=True,
    )
    return dark


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(37, 37, 40), QColor(25, 25, 28), QColor(225, 225, 228)
    accent = QColor(94, 156, 255)
    for role, color in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, window),
        (QPalette.ColorRole.ToolTipBase, base), (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.Highlight, accent),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, accent),
        (QPalette.ColorRole.PlaceholderText, QColor(140, 140, 145)),
    ):  # fmt: skip
        p.setColor(role, color)
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 125))
    return p


GENRE_COLOURS = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]  # fmt: skip  (Tableau 10: distinct, and readable on light and dark backgrounds)


def genre_colour(index: int) -> QColor:
    if index < len(GENRE_COLOURS):
        return QColor(GENRE_COLOURS[index])
    return QColor.fromHsv((index * 47) % 360, 160, 220)
