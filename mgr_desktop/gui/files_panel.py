"""Files: the table of dropped/opened files, the selected file's spectrogram, genre timeline,
verdict, and playback that the spectrogram and genre bars follow.

Selecting a file decodes nothing in the GUI thread and nothing in full: `TrackLoader` streams
the picture (an overview for a long track, whose playhead view is computed from the audio
around the playhead), the `Player` streams the sound, and the per-segment probabilities for
the readout while playing come for that one file from the result cache, or from one full
analysis where its verdict was sampled (`ResultDetails`), since the table keeps only a summary
per row. The table itself, and the status of each file's analysis, are
`FileListPanel`'s (file_list.py); the transport row is `TransportBar`'s (transport_bar.py).
The panel remembers its own settings: the splitter and the output device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from mgr_desktop.gui.file_list import FileListPanel
from mgr_desktop.gui.file_table import DONE, FAILED, WAITING
from mgr_desktop.gui.genre_readout import GenreReadout
from mgr_desktop.gui.row_summary import ResultSummary
from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.gui.spectrogram_view import SpectrogramView
from mgr_desktop.gui.timeline import GenreTimeline
from mgr_desktop.gui.track_loader import (
    ResultDetails,
    TrackInfo,
    TrackLoader,
    TrackPicture,
    freeze_long_lived,
)
from mgr_desktop.gui.transport_bar import SLIDER_STEPS, TransportBar

WINDOW_SECONDS = 40.0  # a long track's full-resolution stretch around the playhead
WINDOW_BEHIND = 12.0  # of which this much before the playhead
DEFAULT_SPLIT = [460, 740]  # file table, track view: the first start, before a saved one


class FilesPanel(FileListPanel):
    """The file list (FileListPanel) on the left; the selected file's view on the right."""

    playing_changed = Signal(bool)  # the analysis waits while the player plays
    # Its buttons ask; the dialogs are the window's.
    open_files_requested = Signal()
    open_folder_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._was_playing = False
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.add_files.clicked.connect(self.open_files_requested)
        self.add_folder.clicked.connect(self.open_folder_requested)
        self.export.clicked.connect(self.export_requested)

        self.title = QLabel("No file selected")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.spectrogram = SpectrogramView()
        self.timeline = GenreTimeline()
        self.timeline.seek_requested.connect(self.seek)
        self.readout = GenreReadout()
        self.transport = t = TransportBar()
        self.play_button = t.play_button  # clicked in tests
        self.output_device = t.output_device  # what toggle_play plays on
        t.play_button.clicked.connect(self.toggle_play)
        t.stop_button.clicked.connect(self.stop)
        t.slider.sliderMoved.connect(lambda v: self.seek(v / SLIDER_STEPS * self.player.duration))

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.title)
        right.addWidget(self.spectrogram, 3)
        right.addWidget(self.timeline)
        right.addWidget(self.transport)
        right.addWidget(self.readout, 2)
        right_w = QWidget()
        right_w.setLayout(right)

        self.splitter = QSplitter()
        self.splitter.addWidget(self.list_side)
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
        self.frame_seconds = self.loader.frame_seconds
        self._reset_track(None)
        self.timer = QTimer(self)
        self.timer.setInterval(20)  # 50 redraws/s while playing
        self.timer.timeout.connect(self._follow_playhead)
        self._update_transport()

    # -- remembered between sessions --------------------------------------------------------
    def restore_settings(self, settings: Settings) -> None:
        """The splitter (or the first start's split); the output device, once it is listed."""
        splitter = settings.get(Key.SPLITTER)
        if splitter:
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes(DEFAULT_SPLIT)
        self.output_device.choose(str(settings.get(Key.OUTPUT_DEVICE) or ""))

    def save_settings(self, settings: Settings) -> None:
        settings.set(Key.SPLITTER, self.splitter.saveState())
        settings.set(Key.OUTPUT_DEVICE, self.output_device.chosen)

    def list_devices(self) -> None:
        """The output devices, listed at the window's first show (listing loads PortAudio)."""
        if error := self.output_device.list_devices():
            self.message.emit(error)

    # -- the list's events, where they touch the selected file -------------------------------
    def set_engine(self, engine: Any) -> None:
        """A new model: its genres size the Genre column; details come from it from now on."""
        self.engine = engine
        self._set_genre_labels(list(engine.labels) if engine is not None else [])
        self.details.cancel()
        self.current_details, self._asked_details = None, False
        freeze_long_lived()  # the model's objects: out of the collector's full passes

    def on_done(self, path: str, result: Any) -> None:
        super().on_done(path, result)
        if path == self.current:
            self.current_details, self._asked_details = None, False  # from the previous model
            self._show_result()
            if not self._whole:
                self._want_details()

    def requeue_all(self) -> None:
        """A new model: the selected file's verdict and timeline go with the old one."""
        super().requeue_all()
        self.current_details, self._asked_details = None, False
        self._show_result()

    def on_failed(self, path: str, reason: str) -> None:
        super().on_failed(path, reason)
        if path == self.current:
            self.readout.clear("error")
            self.readout.confidence.setText(reason)

    def clear(self) -> None:
        self.stop()
        super().clear()
        self.loader.cancel()
        self.details.cancel()
        self.player.unload()
        self._reset_track(None)
        self.title.setText("No file selected")
        self.timeline.clear()
        self.spectrogram.clear_picture()
        self.readout.clear()
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
        super().shutdown()

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
        self.spectrogram.clear_picture()  # until this file's picture comes: never the last file's
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
            self.spectrogram.clear_picture()
            self.readout.clear("error")
            self.readout.confidence.setText(reason)

    def _want_details(self) -> None:
        """The per-segment probabilities of the selected file, for the readout while playing
        (the table keeps summaries): `ResultDetails` finds them in the cache or analyses."""
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
        # The verdict may come from a few spread segments; the opened file's timeline shows all.
        self.timeline.set_segments(result.segments, list(result.probabilities), result.duration)

    def _show_result(self) -> None:
        row = self.model.row_for(self.current) if self.current else None
        if row is None:
            return
        if row.result is None:
            self.timeline.clear()  # a row queued again for another model shows no old verdict
            self.readout.clear({WAITING: "needs a model", FAILED: "error"}.get(row.status, "…"))
            if row.error:
                self.readout.confidence.setText(row.error)
            return
        r = row.result
        self.timeline.set_segments(r.segments, list(r.probabilities), r.duration)
        caption = f"whole track · {len(r.segments)} segments"
        if r.note and r.genre is not None:  # e.g. "the last frame was cut off; ..."
            caption += f"\n{r.note}"
        if getattr(r, "outside", False):
            self.readout.show_outside(r.probabilities, caption, r.tags)
        elif r.genre is None:
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
            self.spectrogram.set_time_range(pos - visible, pos)
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
            self.readout.show_track_segment(d.segments[i], list(d.probabilities), pos)
            return
        # Until the details are there: the segment's genre and confidence from the summary.
        seg = r.segment(r.segment_index_at(pos)) if isinstance(r, ResultSummary) else None
        if seg is not None:
            self.readout.show_summary_segment(seg, pos)

    def _update_transport(self) -> None:
        if self.player.playing != self._was_playing:
            self._was_playing = self.player.playing
            self.playing_changed.emit(self._was_playing)
        p = self.player
        self.transport.show_state(p.loaded, p.playing, p.position, p.duration)
