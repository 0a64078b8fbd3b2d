"""What the main window remembers between sessions. Its own: geometry, the open tab, and the
spectrogram's colour map and dB range. Each panel keeps its own group (the Files splitter and
output device, the Listen input device) through `save_settings` / `restore_settings`, as
Friture's components do, so this module never needs to know what is inside a panel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QTabWidget

from mgr_desktop.gui.settings import Key, Settings

DEFAULT_SIZE = (1200, 780)  # the first start, before there is a saved geometry


class RemembersSettings(Protocol):
    """A panel that saves and restores its own settings (under the same keys as ever)."""

    def save_settings(self, settings: Settings) -> None: ...
    def restore_settings(self, settings: Settings) -> None: ...


class StatefulWindow(Protocol):
    """What is remembered of the window itself: QMainWindow's geometry and the view's look."""

    def restoreGeometry(self, geometry: QByteArray, /) -> bool: ...
    def saveGeometry(self) -> QByteArray: ...
    def resize(self, w: int, h: int, /) -> None: ...
    def set_colormap(self, name: str) -> None: ...
    def set_db_range(self, low: float, high: float) -> None: ...


def restore_window_state(
    window: StatefulWindow,
    tabs: QTabWidget,
    settings: Settings,
    panels: Iterable[RemembersSettings],
) -> None:
    """The saved layout and view settings (the panels' devices are chosen when listed)."""
    geometry = settings.get(Key.GEOMETRY)
    if geometry:
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    for panel in panels:
        panel.restore_settings(settings)
    tabs.setCurrentIndex(int(settings.get(Key.TAB, 0) or 0))
    window.set_colormap(str(settings.get(Key.COLORMAP)))
    window.set_db_range(float(settings.get(Key.DB_MIN)), float(settings.get(Key.DB_MAX)))


def save_window_state(
    window: StatefulWindow,
    tabs: QTabWidget,
    settings: Settings,
    panels: Iterable[RemembersSettings],
) -> None:
    settings.set(Key.GEOMETRY, window.saveGeometry())
    settings.set(Key.TAB, tabs.currentIndex())
    for panel in panels:
        panel.save_settings(settings)
    settings.sync()
