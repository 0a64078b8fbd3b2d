"""The main window's commands: the model toolbar, and the menu bar and its shortcuts, each wired
to the window's own slot that does the work, or to the playback it is given. (The Files panel's
buttons are the panel's: it asks the window by signals.)"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, NamedTuple, Protocol

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QToolBar, QWidget

from mgr_desktop.gui.spectrogram_view import COLORMAPS

if TYPE_CHECKING:
    from mgr_desktop.gui.main_window import MainWindow

THEMES = ("system", "dark", "light")
DB_RANGES = ((-100, 40), (-80, 20), (-70, 10), (-60, 0))  # View > dB range choices


class Playback(Protocol):
    """What the Playback menu and the Space key drive (the Files panel)."""

    def toggle_play(self) -> None: ...
    def stop(self) -> None: ...


class WindowCommands(NamedTuple):
    """The commands the window keeps a handle on (tests trigger them; Space is a shortcut)."""

    write_tags: QAction
    cancel: QAction
    listen: QAction
    space: QShortcut


def build_model_toolbar(
    picker: QWidget, model_info: QLabel, open_model: Callable[[], None]
) -> QToolBar:
    toolbar = QToolBar("Model")
    toolbar.setObjectName("model-toolbar")
    toolbar.setMovable(False)
    toolbar.addWidget(QLabel(" Model: "))
    toolbar.addWidget(picker)
    open_button = QPushButton("Open model…")
    open_button.clicked.connect(open_model)
    toolbar.addWidget(open_button)
    toolbar.addWidget(model_info)
    return toolbar


def build_menus(window: MainWindow, playback: Playback) -> WindowCommands:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    add_action(
        window, file_menu, "&Open files…", window.open_files_dialog, QKeySequence.StandardKey.Open
    )
    add_action(window, file_menu, "Open &folder…", window.open_folder_dialog, "Ctrl+Shift+O")
    add_action(window, file_menu, "Open &model…", window.open_model_dialog, "Ctrl+M")
    add_action(window, file_menu, "&Export results as CSV…", window.export_csv, "Ctrl+E")
    write_tags = add_action(window, file_menu, "&Write genre to files…", window.write_genre_tags)
    file_menu.addSeparator()
    add_action(window, file_menu, "&Quit", window.close, "Ctrl+Q")
    cancel = add_action(window, file_menu, "&Cancel analysis", window.cancel_batch, "Esc")
    play = bar.addMenu("&Playback")
    add_action(window, play, "Play / pause", playback.toggle_play)  # Space: see below
    add_action(window, play, "Stop", playback.stop, "Ctrl+.")
    listen_menu = bar.addMenu("&Listen")
    listen = add_action(
        window, listen_menu, "Start / stop &listening", window.toggle_listen, "Ctrl+L"
    )
    help_menu = bar.addMenu("&Help")
    add_action(window, help_menu, "Open &log folder", window.open_log_folder)
    add_action(window, help_menu, "&About mgr-desktop", window.show_about)
    _build_view_menu(window, bar.addMenu("&View"))
    # Space toggles playback anywhere in the window except while typing in a text field.
    space = QShortcut(QKeySequence("Space"), window)
    space.activated.connect(playback.toggle_play)
    return WindowCommands(write_tags, cancel, listen, space)


def _build_view_menu(window: MainWindow, view: QMenu) -> None:
    # partial, not `lambda n=name: ...`: PySide passes triggered's `checked` (False) to a
    # lambda's first parameter, default or not, so every choice would have been False.
    cmaps = view.addMenu("Colour map")
    for name in COLORMAPS:
        add_action(window, cmaps, name, partial(window.set_colormap, name))
    theme = view.addMenu("Theme")
    for name in THEMES:
        add_action(window, theme, name.capitalize(), partial(window.set_theme, name))
    dbr = view.addMenu("dB range")
    for low, high in DB_RANGES:
        add_action(window, dbr, f"{low} to {high} dB", partial(window.set_db_range, low, high))


def add_action(
    window: MainWindow,
    menu: QMenu,
    text: str,
    slot: Callable[..., object],
    shortcut: QKeySequence.StandardKey | str | None = None,
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action
