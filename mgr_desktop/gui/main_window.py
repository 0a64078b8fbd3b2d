"""The main window: the Files, Listen and Train tabs, the worker threads behind them, and the
active model.

Elsewhere: the menus and toolbar (`window_menus`), the file dialogs (`window_dialogs`), what is
remembered between sessions (`window_state`; each panel keeps its own settings), and stopping
the threads at quit (`thread_shutdown`). Each gets what it needs, never the whole window."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui import window_dialogs
from mgr_desktop.gui.files_panel import FilesPanel
from mgr_desktop.gui.listen_panel import ListenPanel
from mgr_desktop.gui.model_picker import ModelPicker
from mgr_desktop.gui.row_summary import summarize
from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.gui.thread_shutdown import stop_threads
from mgr_desktop.gui.window_menus import build_menus, build_model_toolbar
from mgr_desktop.gui.window_state import restore_window_state, save_window_state
from mgr_desktop.gui.workers import FileWorker, LiveWorker, ModelLoader
from mgr_desktop.paths import default_model_path

if TYPE_CHECKING:
    from mgr_desktop.gui.train_tab import TrainTab

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    # requests to the worker threads (queued connections)
    _warm_up = Signal()
    _load_model = Signal(str, str)
    _classify = Signal(object)  # paths as Python strs: a QVariantList drops undecodable bytes
    _analyze_live = Signal(object, float)
    _use_engine = Signal(object)  # to the file and live workers' set_engine slots
    _start_file_worker = Signal()
    crashed = Signal(str)  # an uncaught exception on any thread (see logs.install_excepthooks)
    THREAD_STOP_MS = 10000  # how long quitting waits for each worker thread

    def __init__(
        self,
        settings: Settings | None = None,
        model: str | None = None,
        files: list[str] | None = None,
        default_model: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        # The shipped model: the window opens ready to classify when the user chose none.
        self.default_model = str(default_model_path()) if default_model is None else default_model
        self.setWindowTitle("mgr-desktop")
        self.setAcceptDrops(True)
        self.engine: Any = None
        self.backend_ready = False
        self._pending_model = model or self.settings.get(Key.ACTIVE_MODEL) or self.default_model
        self._pending_files = list(files or [])

        # Results cross to the GUI thread as the table's compact summaries, made on the worker.
        self.model_thread, self.model_loader = QThread(self), ModelLoader()
        self.file_thread, self.file_worker = QThread(self), FileWorker(summarize)
        self.live_thread, self.live_worker = QThread(self), LiveWorker()
        self.model_thread.setObjectName("model-loader")
        self.file_thread.setObjectName("file-worker")
        self.live_thread.setObjectName("live-worker")
        self.model_loader.moveToThread(self.model_thread)
        self.file_worker.moveToThread(self.file_thread)
        self.live_worker.moveToThread(self.live_thread)

        self.files = FilesPanel()
        # Direct: the worker's thread is busy classifying; `hold` only sets an Event.
        self.files.playing_changed.connect(
            self.file_worker.hold, Qt.ConnectionType.DirectConnection
        )
        self.listen = ListenPanel(self.live_worker)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.files, "Files")
        self.tabs.addTab(self.listen, "Listen")
        self.train_tab = self._make_train_tab()
        self.tabs.addTab(self.train_tab, "Train")
        self.empty_state = self._make_empty_state()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.empty_state)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.picker = ModelPicker()
        self.picker.model_chosen.connect(self.use_model)
        self.model_info = QLabel("loading…")
        self.addToolBar(build_model_toolbar(self.picker, self.model_info, self.open_model_dialog))
        commands = build_menus(self, playback=self.files)
        self.write_tags_action, self.cancel_action = commands.write_tags, commands.cancel
        self.listen_action, self.space = commands.listen, commands.space
        self.crashed.connect(self._show_crash)
        self._connect_workers()
        restore_window_state(self, self.tabs, self.settings, self._panels())
        self._refresh_picker()
        self._update_model_state()
        self.model_thread.start()
        self.file_thread.start()
        self.live_thread.start()
        self._start_file_worker.emit()

    # -- construction -----------------------------------------------------------------------
    def _make_empty_state(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        text = QLabel(
            "<b>No model yet.</b> Train one on your own GTZAN copy, or open a model "
            "file. The spectrogram and playback work without one."
        )
        text.setWordWrap(True)
        train = QPushButton("Train a model…")
        train.clicked.connect(lambda: self.tabs.setCurrentWidget(self.train_tab))
        open_ = QPushButton("Open model…")
        open_.clicked.connect(self.open_model_dialog)
        row.addWidget(text, 1)
        row.addWidget(train)
        row.addWidget(open_)
        return box

    def _make_train_tab(self) -> TrainTab | QLabel:
        try:
            from mgr_desktop.gui.train_tab import TrainTab
        except ImportError:
            return QLabel("Training from the window is not available in this build.")
        tab = TrainTab(self.settings)
        tab.model_ready.connect(self._trained_model_ready)
        tab.use_requested.connect(self.use_model)
        return tab

    def _panels(self) -> tuple[FilesPanel, ListenPanel]:
        """The panels that save and restore their own settings (the Train tab's form does so
        itself: it restores on construction and saves when a run starts)."""
        return self.files, self.listen

    def cancel_batch(self) -> None:
        """Stop the running batch after the file in hand; the rest are marked cancelled."""
        self._user_cancelled = True
        self.file_worker.cancel()

    def _on_batch_finished(self) -> None:
        if getattr(self, "_user_cancelled", False):
            self._user_cancelled = False
            self.files.mark_cancelled()
            self.statusBar().showMessage("Analysis cancelled", 5000)

    def open_log_folder(self) -> None:
        window_dialogs.open_log_folder()

    def report_crash(self, text: str) -> None:
        """Thread-safe: an uncaught exception somewhere; the dialog opens on the GUI thread."""
        self.crashed.emit(text)

    def _show_crash(self, text: str) -> None:
        from mgr_desktop.logs import log_file

        self.show_message(
            f"Something went wrong: {text}. The app keeps running; the details are in "
            f"{log_file()} (Help → Open log folder).",
            error=True,
        )

    def _connect_workers(self) -> None:
        fw, lw, ml = self.file_worker, self.live_worker, self.model_loader
        self._warm_up.connect(ml.warm_up)
        self._load_model.connect(ml.load_model)
        self._start_file_worker.connect(fw.start)
        self._use_engine.connect(fw.set_engine)
        self._use_engine.connect(lw.set_engine)
        self._classify.connect(fw.classify)
        self._analyze_live.connect(lw.analyze)
        ml.backend_ready.connect(self._on_backend_ready)
        ml.backend_ready.connect(self.files.warm_up)
        ml.model_loaded.connect(self._on_model_loaded)
        ml.model_failed.connect(self._on_model_failed)
        fw.batch_finished.connect(self._on_batch_finished)
        fw.file_started.connect(self.files.on_started)
        fw.file_done.connect(self.files.on_done)
        fw.file_failed.connect(self.files.on_failed)
        lw.readout.connect(self.listen.on_readout)
        lw.failed.connect(self.show_message)
        self.files.classify_requested.connect(self._classify)
        self.files.message.connect(self.show_message)
        self.files.open_files_requested.connect(self.open_files_dialog)
        self.files.open_folder_requested.connect(self.open_folder_dialog)
        self.files.export_requested.connect(self.export_csv)
        self.listen.window_ready.connect(self._analyze_live)
        self.listen.session_started.connect(lw.reset)
        self.listen.message.connect(self.show_message)

    # -- start-up: the window shows first, then torch loads on the worker --------------------
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self.backend_ready and not getattr(self, "_warming", False):
            self._warming = True
            QTimer.singleShot(0, self._warm_up.emit)
            QTimer.singleShot(0, self._populate_devices)

    def _on_backend_ready(self) -> None:
        self.backend_ready = True
        if self._pending_model:
            self.use_model(self._pending_model)
        else:
            self.model_info.setText("")
        if self._pending_files:
            self.files.add_paths(self._pending_files)
            self._pending_files = []

    def _populate_devices(self) -> None:
        for panel in self._panels():
            panel.list_devices()  # each chooses its remembered device; a failure is a message

    # -- models -----------------------------------------------------------------------------
    def use_model(self, path: str) -> None:
        if not path:
            return
        if not self.backend_ready:
            self._pending_model = path
            return
        self.model_info.setText(f"loading {Path(path).name}…")
        self._load_model.emit(path, str(self.settings.get(Key.COMPUTE_DEVICE)))

    def _on_model_loaded(self, engine: Any, device: str) -> None:
        self.engine = engine
        self._pending_model = None
        path = str(engine.path)
        self.settings.set(Key.ACTIVE_MODEL, path)
        known = self.settings.get(Key.KNOWN_MODELS)
        if path not in known:
            self.settings.set(Key.KNOWN_MODELS, [*known, path])
        self.file_worker.cancel()  # the running batch's results are the old model's
        self._use_engine.emit(engine)
        self.files.set_engine(engine)
        info = engine.info
        self.model_info.setText(
            f" {info.name or Path(path).stem} · {info.arch} · {len(info.genres)} genres · {device}"
        )
        self.model_info.setToolTip("Genres: " + ", ".join(info.genres))
        self.listen.set_feature_config(engine.cfg)
        self.listen.readout.set_labels(list(info.genres))
        self._refresh_picker()
        self._update_model_state()
        self.files.requeue_all()
        self.statusBar().showMessage(f"Model {Path(path).name} ready on {device}", 5000)

    def _on_model_failed(self, path: str, reason: str) -> None:
        self._pending_model = None
        if self.settings.get(Key.ACTIVE_MODEL) == path and self.engine is None:
            self.settings.set(Key.ACTIVE_MODEL, "")
        self.model_info.setText("")
        self._refresh_picker()
        self.show_message(f"Cannot use model {path}: {reason}", error=True)

    def _refresh_picker(self) -> None:
        active = str(self.engine.path) if self.engine is not None else None
        extra = [self.default_model] if self.default_model else []
        self.picker.refresh([*extra, *self.settings.get(Key.KNOWN_MODELS)], active)

    def _update_model_state(self) -> None:
        has = self.engine is not None
        self.empty_state.setVisible(not has)
        self.files.has_model = has
        self.listen.has_model = has

    def _trained_model_ready(self, path: str) -> None:
        known = self.settings.get(Key.KNOWN_MODELS)
        if path not in known:
            self.settings.set(Key.KNOWN_MODELS, [*known, path])
        self._refresh_picker()
        self.statusBar().showMessage(
            f"New model ready: {Path(path).name} (Use this model, or pick it in the model list)",
            10000,
        )

    # -- actions ----------------------------------------------------------------------------
    def add_paths(self, paths: list[str]) -> None:
        if not self.backend_ready:
            self._pending_files += paths
        else:
            self.files.add_paths(paths)
        self.tabs.setCurrentWidget(self.files)

    def open_files_dialog(self) -> None:
        paths = window_dialogs.ask_audio_files(self, self.settings)
        if paths:
            self.add_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = window_dialogs.ask_audio_folder(self, self.settings)
        if folder:
            self.add_paths([folder])

    def open_model_dialog(self) -> None:
        path = window_dialogs.ask_model_file(self, self.settings)
        if path:
            self.use_model(path)

    def write_genre_tags(self) -> None:
        window_dialogs.write_genre_tags(self, self.files.model, self.settings, self.show_message)

    def export_csv(self) -> None:
        window_dialogs.export_results(self, self.files.model, self.show_message)

    def show_about(self) -> None:
        window_dialogs.show_about(self, self.engine)

    def toggle_listen(self) -> None:
        self.tabs.setCurrentWidget(self.listen)
        self.listen.toggle()

    def set_colormap(self, name: str) -> None:
        self.settings.set(Key.COLORMAP, name)
        for view in (self.files.spectrogram, self.listen.spectrogram):
            view.set_colormap(name)

    def set_db_range(self, low: float, high: float) -> None:
        self.settings.set(Key.DB_MIN, low)
        self.settings.set(Key.DB_MAX, high)
        for view in (self.files.spectrogram, self.listen.spectrogram):
            view.set_levels(low, high)

    def set_theme(self, name: str) -> None:
        from mgr_desktop.gui.theme import apply_theme

        self.settings.set(Key.THEME, name)
        app = QApplication.instance()
        if isinstance(app, QApplication):  # None or a QCoreApplication: no widgets to theme
            apply_theme(app, name)

    def show_message(self, text: str, error: bool = False) -> None:
        log.warning("%s", text)
        self.statusBar().showMessage(text, 10000)
        if error and self.isVisible():
            QMessageBox.warning(self, "mgr-desktop", text)

    # -- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # -- shutdown ----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        train = self.train_tab
        if not isinstance(train, QLabel) and train.running:  # a QLabel: a build without training
            answer = QMessageBox.question(
                self, "Training in progress",
                "A model is training. Stop it and quit? The last checkpoint is kept, so you can "
                "resume later.")  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            train.stop_and_wait()
        save_window_state(self, self.tabs, self.settings, self._panels())
        self.listen.stop()
        self.files.shutdown()
        self.file_worker.cancel()
        stop_threads((self.file_thread, self.live_thread, self.model_thread), self.THREAD_STOP_MS)
        event.accept()
