"""Files: the table of dropped/opened files, the selected file's spectrogram, genre timeline,
verdict, and playback that the spectrogram and genre bars follow.

Selecting a file decodes nothing in the GUI thread and nothing in full: `TrackLoader` streams
the picture (an overview for a long track, whose playhead view is computed from the audio
around the playhead), the `Player` streams the sound, and the per-segment probabilities for
the readout while playing are recomputed for that one file (`ResultDetails`), since the table
keeps only a summary per row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui.file_table import (
    ANALYSING,
    CANCELLED,
    COLUMNS,
    DONE,
    FAILED,
    QUEUED,
    STATUSES,
    WAITING,
    FileTableModel,
    duration_text,
)
from mgr_desktop.gui.genre_readout import GenreReadout
from mgr_desktop.gui.spectrogram_view import SpectrogramView
from mgr_desktop.gui.timeline import GenreTimeline
from mgr_desktop.gui.track_loader import (
    ResultDetails,
    TrackInfo,
    TrackLoader,
    TrackPicture,
    freeze_long_lived,
)

WINDOW_SECONDS = 40.0  # a long track's full-resolution stretch around the playhead
WINDOW_BEHIND = 12.0  # of which this much before the playhead
NAME_SHARE = 0.4  # an error message widens the Status column only while names keep this share


class FilesPanel(QWidget):
    classify_requested = Signal(list)
    message = Signal(str)
    _scanned = Signal(object, object)  # files, problems: a folder search, done off this thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FileTableModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the extension
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        # Columns sized to what they can hold (computed from their possible texts, never by
        # measuring every row), and the file name takes the rest.
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._labels: list[str] = []
        self._longest_duration = 0.0
        self._longest_error = ""
        self._scanner: ThreadPoolExecutor | None = None
        self._scanned.connect(self._add_found)

        self.add_files = QPushButton("Add files…")
        self.add_folder = QPushButton("Add folder…")
        self.export = QPushButton("Export CSV…")
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.empty_hint = QLabel("Drop audio files or folders here")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setEnabled(False)

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.table, 1)
        left.addWidget(self.empty_hint)
        buttons = QHBoxLayout()
        for b in (self.add_files, self.add_folder, self.export, self.clear_button):
            buttons.addWidget(b)
        left.addLayout(buttons)
        left_w = QWidget()
        left_w.setLayout(left)

        self.title = QLabel("No file selected")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.spectrogram = SpectrogramView()
        self.timeline = GenreTimeline()
        self.timeline.seek_requested.connect(self.seek)
        self.readout = GenreReadout()
        style = self.style()
        self.play_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "")
        self.stop_button.setToolTip("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.sliderMoved.connect(lambda v: self.seek(v / 1000 * self.player.duration))
        self.time_label = QLabel("0:00 / 0:00")
        self.output_device = QComboBox()
        self.output_device.setToolTip("Output device")
        transport = QHBoxLayout()
        for w in (self.play_button, self.stop_button):
            transport.addWidget(w)
        transport.addWidget(self.slider, 1)
        transport.addWidget(self.time_label)
        transport.addWidget(self.output_device)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.title)
        right.addWidget(self.spectrogram, 3)
        right.addWidget(self.timeline)
        right.addLayout(transport)
        right.addWidget(self.readout, 2)
        right_w = QWidget()
        right_w.setLayout(right)

        self.splitter = QSplitter()
        self.splitter.addWidget(left_w)
        self.splitter.addWidget(right_w)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.splitterMoved.connect(self._refit_for_errors)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.splitter)

        from mgr_desktop.audio.playback import Player

        self.player = Player()
        self.loader = TrackLoader(self)
        self.loader.opened.connect(self._on_opened)
        self.loader.picture.connect(self._on_picture)
        self.loader.window.connect(self._on_window)
        self.loader.failed.connect(self.on_track_failed)
        self.details = ResultDetails(self)
        self.details.ready.connect(self._on_details)
        self.engine: Any = None
        self.has_model = False
        self.frame_seconds = self.loader.frame_seconds
        self._reset_track(None)
        self.timer = QTimer(self)
        self.timer.setInterval(20)  # 50 redraws/s while playing
        self.timer.timeout.connect(self._follow_playhead)
        self._update_transport()
        self._fit_columns()

    # -- files ------------------------------------------------------------------------------
    def add_paths(self, paths: list[str]) -> None:
        """Files named directly are listed at once; folders are searched on a thread of their
        own (a big or slow folder must not stall the window), and listed when searched."""
        from mgr_desktop.audio.input_files import expand_inputs

        if any(Path(p).is_dir() for p in paths):
            if self._scanner is None:
                self._scanner = ThreadPoolExecutor(1, thread_name_prefix="folder-scan")
            self._scanner.submit(lambda: self._scanned.emit(*expand_inputs(paths)))
            return
        self._add_found(*expand_inputs(paths))

    def _add_found(self, files: list[Path], problems: list[Any]) -> None:
        new = self.model.add([str(p) for p in files], QUEUED if self.has_model else WAITING)
        for prob in problems:
            self.model.add([prob.path])
            self.model.update(prob.path, FAILED, error=prob.reason)
            self._note_error(prob.reason)
        self.empty_hint.setVisible(not self.model.rows)
        if new and self.has_model:
            self.classify_requested.emit(new)
        if self.model.rows and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        if problems:
            self.message.emit(f"{problems[0].path}: {problems[0].reason}")

    def set_engine(self, engine: Any) -> None:
        """A new model: its genres size the Genre column; details come from it from now on."""
        self.engine = engine
        self._labels = list(engine.labels) if engine is not None else []
        self.details.cancel()
        self.current_details, self._asked_details = None, False
        self._fit_columns()
        freeze_long_lived()  # the model's objects: out of the collector's full passes

    def requeue_all(self) -> None:
        """A new model: analyse everything again with it."""
        live = (DONE, WAITING, QUEUED, ANALYSING, CANCELLED)
        paths = [r.path for r in self.model.rows if r.status in live]
        for p in paths:
            self.model.update(p, QUEUED)
        if paths:
            self.classify_requested.emit(paths)

    def mark_cancelled(self) -> None:
        """The user cancelled the batch: what it had not reached says so."""
        for r in self.model.rows:
            if r.status in (QUEUED, ANALYSING):
                self.model.update(r.path, CANCELLED)

    def on_started(self, path: str) -> None:
        self.model.update(path, ANALYSING)

    def on_done(self, path: str, result: Any) -> None:
        self.model.update(path, DONE, result)
        shown = max(self._longest_duration, 599.9)  # the column fits "9:59.9" from the start
        if len(duration_text(result.duration)) > len(duration_text(shown)):
            self._longest_duration = result.duration
            self._fit_columns()
        if path == self.current:
            self.current_details, self._asked_details = None, False  # from the previous model
            self._show_result()
            if not self._whole:
                self._want_details()

    def on_failed(self, path: str, reason: str) -> None:
        self.model.update(path, FAILED, error=reason)
        self._note_error(reason)
        if path == self.current:
            self.readout.clear("error")
            self.readout.confidence.setText(reason)

    def clear(self) -> None:
        self.stop()
        self.model.clear()
        self.loader.cancel()
        self.details.cancel()
        self.player.unload()
        self._reset_track(None)
        self.title.setText("No file selected")
        self.timeline.clear()
        self.readout.clear()
        self.empty_hint.setVisible(True)
        self._update_transport()

    def warm_up(self) -> None:
        """The backend is loaded: get the loader ready, so the first selection shows at once."""
        self.loader.warm_up()

    def shutdown(self) -> None:
        """The window closes: stop the sound and the loader's threads."""
        self.player.stop()
        self.timer.stop()
        self.loader.shutdown()
        self.details.shutdown()
        if self._scanner is not None:
            self._scanner.shutdown(wait=False, cancel_futures=True)

    # -- column widths ------------------------------------------------------------------------
    def _note_error(self, reason: str) -> None:
        if len(reason) > len(self._longest_error):
            self._longest_error = reason
            self._fit_columns()

    def _fit_columns(self) -> None:
        """Genre, Confidence, Duration and Status as wide as their longest possible text; a
        long error message only as far as it leaves the file names NAME_SHARE of the table
        (beyond that it is elided; the tooltip has all of it)."""
        header = self.table.horizontalHeader()
        fm, hfm = self.table.fontMetrics(), header.fontMetrics()
        style = self.table.style()
        pad = 2 * style.pixelMetric(style.PixelMetric.PM_FocusFrameHMargin, None, self.table) + 12
        hpad = 2 * style.pixelMetric(style.PixelMetric.PM_HeaderMargin, None, header) + 12

        def width(col: int, texts: list[str]) -> int:
            content = max((fm.horizontalAdvance(t) for t in texts), default=0) + pad
            return max(content, hfm.horizontalAdvance(COLUMNS[col]) + hpad)

        genres = ["no signal", *(f"{g}?" for g in self._labels)]
        widths = {
            1: width(1, genres),
            2: width(2, ["100%"]),
            3: width(3, [duration_text(max(self._longest_duration, 599.9))]),
            4: width(4, [s for s in STATUSES if s != FAILED]),
        }
        if self._longest_error:
            table = self.table.viewport().width()
            room = table - sum(widths.values()) + widths[4] - int(NAME_SHARE * table)
            error = width(4, [f"error: {self._longest_error}"])
            widths[4] = max(widths[4], min(error, room))
        for col, w in widths.items():
            if header.sectionSize(col) != w:
                header.resizeSection(col, w)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit_for_errors()

    def _refit_for_errors(self, *_: object) -> None:
        if self._longest_error:  # the room an error may take depends on the table's width
            self._fit_columns()

    # -- selection and detail ---------------------------------------------------------------
    def _reset_track(self, path: str | None) -> None:
        self.current = path
        self.current_db: np.ndarray | None = None  # the whole-track image (or its overview)
        self.column_seconds = self.frame_seconds  # seconds per column of current_db
        self.overview = False  # a long track: current_db is an overview; windows follow
        self.track_duration: float | None = None
        self.current_details: Any = None  # the full TrackResult, recomputed on demand
        self._asked_details = False
        self._detail_starts = np.zeros(0)
        # A long track's full-resolution stretch near the playhead: (start seconds, dB).
        self.playhead_window: tuple[float, np.ndarray] | None = None
        self._window_asked: float | None = None
        self._whole = True  # showing the whole track (stopped) rather than the playhead

    def _selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        rows = selected.indexes()
        if not rows:
            return
        path = self.model.rows[rows[0].row()].path
        if path == self.current:
            return
        self.stop()
        self.player.unload()
        self.details.cancel()
        self._reset_track(path)
        self.title.setText(path)
        self.timeline.clear()
        self.readout.clear("…")
        self.loader.load(path)
        self._show_result()
        self._update_transport()

    def _on_opened(self, info: TrackInfo) -> None:
        if info.path != self.current:
            return
        self.overview = info.overview
        if not self.player.loaded:
            self.player.open(info.path, info.duration, info.source_rate)
        if info.duration is not None:
            self.track_duration = info.duration
        self._update_transport()

    def _on_picture(self, path: str, picture: TrackPicture) -> None:
        if path != self.current:
            return
        self.current_db = picture.db
        self.column_seconds = picture.column_seconds
        if picture.done and picture.duration is not None:
            self.track_duration = picture.duration
            self.player.set_duration(picture.duration)
        if self._whole:
            total = max(self.track_duration or 0.0, picture.covered)
            self.spectrogram.set_frame_seconds(self.frame_seconds)
            self.spectrogram.set_track(picture.db, picture.column_seconds, total)
        self._update_transport()

    def _on_window(self, path: str, start: float, db: np.ndarray) -> None:
        if path != self.current:
            return
        self.playhead_window, self._window_asked = (start, db), None
        if not self._whole:
            self._follow_playhead()

    def on_track_failed(self, path: str, reason: str) -> None:
        if path == self.current:
            self.readout.clear("error")
            self.readout.confidence.setText(reason)

    def _want_details(self) -> None:
        """The per-segment probabilities of the selected file, for the readout while playing:
        recomputed with the active model for this one file (the table keeps summaries)."""
        row = self.model.row_for(self.current) if self.current else None
        if self.engine is None or row is None or row.status != DONE or self.current_details:
            return
        if not self._asked_details:
            self._asked_details = True
            self.details.request(self.engine, row.path)

    def _on_details(self, path: str, result: Any) -> None:
        if path != self.current:
            return
        self.current_details = result
        self._detail_starts = np.array([s.start for s in result.segments])

    def _show_result(self) -> None:
        row = self.model.row_for(self.current) if self.current else None
        if row is None:
            return
        if row.result is None:
            self.readout.clear({WAITING: "needs a model", FAILED: "error"}.get(row.status, "…"))
            if row.error:
                self.readout.confidence.setText(row.error)
            return
        r = row.result
        self.timeline.set_segments(r.segments, list(r.probabilities), r.duration)
        caption = f"whole track · {len(r.segments)} segments"
        if r.genre is None:
            self.readout.show_no_signal(caption)
        else:
            self.readout.show_probabilities(r.probabilities, caption, r.tags)

    # -- playback ---------------------------------------------------------------------------
    def toggle_play(self) -> None:
        from mgr_desktop.audio.devices import AudioDeviceError

        if not self.player.loaded:
            return
        if self.player.playing:
            self.player.pause()
            self.timer.stop()
        else:
            self.player.device = self.output_device.currentData()
            try:
                self.player.play()
            except AudioDeviceError as e:
                self.message.emit(str(e))
                return
            self._whole = False
            self._want_details()
            self.timer.start()
        self._update_transport()

    def stop(self) -> None:
        self.player.stop()
        self.timer.stop()
        self._whole = True
        if self.current_db is not None:
            self.spectrogram.set_track(self.current_db, self.column_seconds, self.track_duration)
        self.timeline.set_position(None)
        self._show_result()
        self._update_transport()

    def seek(self, seconds: float) -> None:
        if not self.player.loaded:
            return
        self.player.seek(seconds)
        self._whole = False
        self._want_details()
        self._follow_playhead()

    def _follow_playhead(self) -> None:
        if not self.player.loaded:
            return
        pos = self.player.position
        self._show_playhead_picture(pos)
        self.timeline.set_position(pos)
        self._show_segment_readout(pos)
        if not self.player.playing:
            self.timer.stop()
            if self.player.finished:
                if self.player.error:
                    self.message.emit(f"{self.current}: {self.player.error}")
                self.stop()
        self._update_transport()

    def _show_playhead_picture(self, pos: float) -> None:
        if not self.overview:
            if self.current_db is not None:
                self.spectrogram.show_window(self.current_db, pos)
            return
        # A long track: full-resolution columns of the stretch around the playhead, computed
        # from the audio there; asked for again before the playhead runs out of them.
        visible = self.spectrogram.seconds_visible
        win = self.playhead_window
        if win is not None:
            start, db = win
            end = start + db.shape[1] * self.frame_seconds
            covers = start <= max(0.0, pos - visible) + 0.5 and pos <= end
            if covers:
                self.spectrogram.show_window(db, pos, start)
            if covers and pos < end - 8.0:
                return
        else:
            self.spectrogram.getPlotItem().setXRange(pos - visible, pos, padding=0)
        wanted = max(0.0, pos - WINDOW_BEHIND)
        if self._window_asked is None or abs(self._window_asked - wanted) > WINDOW_BEHIND:
            self._window_asked = wanted
            assert self.current is not None
            self.loader.request_window(self.current, wanted, WINDOW_SECONDS)

    def _show_segment_readout(self, pos: float) -> None:
        row = self.model.row_for(self.current) if self.current else None
        r = row.result if row is not None else None
        if r is None or not len(r.segments):
            return
        d = self.current_details
        if d is not None and len(d.segments) and list(d.probabilities) == list(r.probabilities):
            i = max(0, int(np.searchsorted(self._detail_starts, pos, side="right")) - 1)
            seg = d.segments[i]
            caption = f"at {pos:.1f} s (segment {seg.start:.1f}–{seg.end:.1f} s)"
            labels = list(d.probabilities)
            if seg.genre is None or not labels:
                self.readout.show_no_signal(caption)
            else:
                self.readout.show_probabilities(
                    {lab: float(p) for lab, p in zip(labels, seg.probabilities, strict=True)},
                    caption,
                )
            return
        # Until the details are there: the segment's genre and confidence from the summary.
        seg = r.segment(r.segment_index_at(pos)) if hasattr(r, "segment_index_at") else None
        if seg is None:
            return
        caption = f"at {pos:.1f} s (segment {seg.start:.1f}–{seg.end:.1f} s)"
        if seg.genre is None:
            self.readout.show_no_signal(caption)
        else:
            self.readout.genre.setText(seg.genre)
            self.readout.confidence.setText(f"{seg.confidence:.0%} in this segment\n{caption}")

    def _update_transport(self) -> None:
        d, p = self.player.duration, self.player.position
        self.time_label.setText(
            f"{int(p // 60)}:{int(p % 60):02d} / {int(d // 60)}:{int(d % 60):02d}"
        )
        if not self.slider.isSliderDown():
            self.slider.setValue(int(1000 * p / d) if d else 0)
        icon = QStyle.StandardPixmap.SP_MediaPause if self.player.playing \
            else QStyle.StandardPixmap.SP_MediaPlay  # fmt: skip
        self.play_button.setIcon(self.style().standardIcon(icon))
        enabled = self.player.loaded
        for w in (self.play_button, self.stop_button, self.slider):
            w.setEnabled(enabled)

    def file_count(self) -> int:
        return len(self.model.rows)
