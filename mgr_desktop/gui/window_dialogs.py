"""The main window's file dialogs and the commands behind them: open audio, a folder or a
model (remembering the folder), export the results as CSV, write genre tags, and show the logs.

The ask_* functions only ask: what to do with the answer is the window's business. The others
take what they need (the file table's model, the settings, how to tell the user), never the
window's insides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtWidgets import QFileDialog, QMainWindow, QWidget

from mgr_desktop.gui.settings import Key, Settings

AUDIO_FILTER = "Audio (*.wav *.au *.aif *.aiff *.flac *.ogg *.opus *.mp3 *.m4a);;All files (*)"
MODEL_FILTER = "mgr-desktop models (*.safetensors);;All files (*)"


class ResultTable(Protocol):
    """What the commands read of the Files panel's table model (file_table.FileTableModel)."""

    @property
    def rows(self) -> Sequence[Any]: ...  # each with .result: its summary, or None
    def export_csv(self, path: str) -> None: ...


class ShowMessage(Protocol):
    """The window's way to tell the user: the status bar and the log, a box for an error."""

    def __call__(self, text: str, error: bool = False) -> None: ...


def ask_audio_files(parent: QWidget, settings: Settings) -> list[str]:
    """The audio files the user picked ([] if cancelled); their folder is the next start."""
    paths, _ = QFileDialog.getOpenFileNames(
        parent, "Open audio files", settings.get(Key.LAST_DIR, ""), AUDIO_FILTER
    )
    if paths:
        settings.set(Key.LAST_DIR, str(Path(paths[0]).parent))
    return paths


def ask_audio_folder(parent: QWidget, settings: Settings) -> str:
    """The folder the user picked ('' if cancelled), remembered as the next start."""
    folder = QFileDialog.getExistingDirectory(
        parent, "Open a folder of audio", settings.get(Key.LAST_DIR, "")
    )
    if folder:
        settings.set(Key.LAST_DIR, folder)
    return folder


def ask_model_file(parent: QWidget, settings: Settings) -> str:
    """The model file the user picked ('' if cancelled)."""
    path, _ = QFileDialog.getOpenFileName(
        parent, "Open model", settings.get(Key.LAST_DIR, ""), MODEL_FILTER
    )
    return path


def export_results(window: QMainWindow, table: ResultTable, show_message: ShowMessage) -> None:
    """File > Export results as CSV…: every row of the file table, to a file the user names."""
    if not table.rows:
        show_message("Nothing to export yet: add some files first.")
        return
    path, _ = QFileDialog.getSaveFileName(window, "Export results", "genres.csv", "CSV (*.csv)")
    if path:
        try:
            table.export_csv(path)
        except OSError as e:
            show_message(f"Cannot write {path}: {e.strerror or e}", error=True)
            return
        window.statusBar().showMessage(f"Saved {path}", 5000)


def write_genre_tags(
    parent: QWidget, table: ResultTable, settings: Settings, show_message: ShowMessage
) -> None:
    """File > Write genre to files…: preview, threshold and confirmation in a dialog."""
    from mgr_desktop.gui.write_tags_dialog import WriteTagsDialog

    # The table's summaries carry path, verdict, probabilities (for a second genre) and
    # whether the track is outside the model's genres (never tagged).
    rows = [row.result for row in table.rows if getattr(row, "result", None)]
    if not rows:
        show_message("Nothing to tag yet: add some files and let them be classified.")
        return
    WriteTagsDialog(rows, settings, parent).exec()


def show_about(parent: QWidget, engine: Any) -> None:
    """Help > About mgr-desktop: versions, licences, and the active model's card (if any)."""
    from mgr_desktop.gui.about import show_about as show_about_box

    show_about_box(parent, engine.info if engine is not None else None)


def open_log_folder() -> None:
    """Help > Open log folder: in the system's file manager (made first if need be)."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    from mgr_desktop.logs import log_file

    folder = log_file().parent
    folder.mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
