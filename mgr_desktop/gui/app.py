"""Start the window: Qt first, torch later (on a worker, after the window is visible)."""

from __future__ import annotations

import sys

from mgr_desktop.paths import resource_path


def run_gui(
    files: list[str] | None = None, model: str | None = None, quit_after_ms: int | None = None
) -> int:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from mgr_desktop import __version__
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Key, Settings
    from mgr_desktop.gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):  # instance() may be a plain QCoreApplication
        raise RuntimeError("a QCoreApplication is running: the window needs a QApplication")
    app.setApplicationName("mgr-desktop")
    app.setApplicationDisplayName("mgr-desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("mgr-desktop")
    icon = resource_path("icons", "mgr-desktop.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    settings = Settings()
    apply_theme(app, str(settings.get(Key.THEME)))
    window = MainWindow(settings, model=model, files=files)
    from mgr_desktop.logs import install_excepthooks

    install_excepthooks(window.report_crash)  # the log gets the traceback, the user a dialog
    window.show()
    if quit_after_ms is not None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(quit_after_ms, window.close)
    return app.exec()
