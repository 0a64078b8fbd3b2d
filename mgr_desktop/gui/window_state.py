"""What the main window remembers between sessions: its geometry, the Files splitter, the
open tab, the chosen audio devices, and the spectrogram's colour map and dB range."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgr_desktop.gui.settings import Key

if TYPE_CHECKING:
    from mgr_desktop.gui.main_window import MainWindow

DEFAULT_SIZE = (1200, 780)  # the first start, before there is a saved geometry
DEFAULT_SPLIT = [460, 740]  # file table, track view


def restore_window_state(window: MainWindow) -> None:
    """The saved layout and view settings (the devices are restored when they are listed)."""
    s = window.settings
    geometry = s.get(Key.GEOMETRY)
    if geometry:
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    splitter = s.get(Key.SPLITTER)
    if splitter:
        window.files.splitter.restoreState(splitter)
    else:
        window.files.splitter.setSizes(DEFAULT_SPLIT)
    window.tabs.setCurrentIndex(int(s.get(Key.TAB, 0) or 0))
    window.set_colormap(str(s.get(Key.COLORMAP)))
    window.set_db_range(float(s.get(Key.DB_MIN)), float(s.get(Key.DB_MAX)))


def save_window_state(window: MainWindow) -> None:
    s = window.settings
    s.set(Key.GEOMETRY, window.saveGeometry())
    s.set(Key.SPLITTER, window.files.splitter.saveState())
    s.set(Key.TAB, window.tabs.currentIndex())
    s.set(Key.OUTPUT_DEVICE, window.files.output_device.currentData() or "")
    s.set(Key.INPUT_DEVICE, window.listen.input_device.currentData() or "")
    s.sync()
