"""Files: the table of dropped/opened files, the selected file's spectrogram, genre timeline,
verdict, and playback that the spectrogram and genre bars follow."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
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

from mgr_desktop.dsp.display import display_config
from mgr_desktop.gui.file_table import ANALYSING, DONE, FAILED, QUEUED, WAITING, FileTableModel
from mgr_desktop.gui.genre_readout import GenreReadout
from mgr_desktop.gui.spectrogram_view import SpectrogramView
from mgr_desktop.gui.timeline import GenreTimeline


class FilesPanel(QWidget):
    track_requested = Signal(str)  # the window asks the worker to load it
    classify_requested = Signal(list)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FileTableModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 220)
        for col in range(1, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

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
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.splitter)

        from mgr_desktop.audio.playback import Player

        self.player = Player()
        self.current: str | None = None
        self.current_db: np.ndarray | None = None
        display = display_config()
        self.frame_seconds = display.hop_length / display.sample_rate
        self.has_model = False
        self.timer = QTimer(self)
        self.timer.setInterval(20)  # 50 redraws/s while playing
        self.timer.timeout.connect(self._follow_playhead)
        self._update_transport()

    # -- files ------------------------------------------------------------------------------
    def add_paths(self, paths: list[str]) -> None:
        from mgr_desktop.audio.discover import expand_inputs

        files, problems = expand_inputs(paths)
        new = self.model.add([str(p) for p in files], QUEUED if self.has_model else WAITING)
        for prob in problems:
            self.model.add([prob.path])
            self.model.update(prob.path, FAILED, error=prob.reason)
        self.empty_hint.setVisible(not self.model.rows)
        if new and self.has_model:
            self.classify_requested.emit(new)
        if self.model.rows and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        if problems:
            self.message.emit(f"{problems[0].path}: {problems[0].reason}")

    def requeue_all(self) -> None:
        """A new model: analyse everything again with it."""
        paths = [r.path for r in self.model.rows if r.status in (DONE, WAITING, QUEUED, ANALYSING)]
        for p in paths:
            self.model.update(p, QUEUED)
        if paths:
            self.classify_requested.emit(paths)

    def on_started(self, path: str) -> None:
        self.model.update(path, ANALYSING)

    def on_done(self, path: str, result: Any) -> None:
        self.model.update(path, DONE, result)
        if path == self.current:
            self._show_result()

    def on_failed(self, path: str, reason: str) -> None:
        self.model.update(path, FAILED, error=reason)
        if path == self.current:
            self.readout.clear("error")
            self.readout.confidence.setText(reason)

    def clear(self) -> None:
        self.stop()
        self.model.clear()
        self.current, self.current_db = None, None
        self.title.setText("No file selected")
        self.timeline.clear()
        self.readout.clear()
        self.empty_hint.setVisible(True)

    # -- selection and detail ---------------------------------------------------------------
    def _selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        rows = selected.indexes()
        if not rows:
            return
        path = self.model.rows[rows[0].row()].path
        if path == self.current:
            return
        self.stop()
        self.current, self.current_db = path, None
        self.title.setText(path)
        self.timeline.clear()
        self.readout.clear("…")
        self.track_requested.emit(path)
        self._show_result()

    def on_track_loaded(self, path: str, wave: np.ndarray, db: np.ndarray, rate: int) -> None:
        if path != self.current:
            return
        self.current_db = db
        self.frame_seconds = display_config(rate).hop_length / rate
        self.spectrogram.set_frame_seconds(self.frame_seconds)
        self.spectrogram.set_track(db)
        self.player.load(wave, rate)
        self._update_transport()

    def on_track_failed(self, path: str, reason: str) -> None:
        if path == self.current:
            self.readout.clear("error")
            self.readout.confidence.setText(reason)

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

        if self.current_db is None:
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
            self.timer.start()
        self._update_transport()

    def stop(self) -> None:
        self.player.stop()
        self.timer.stop()
        if self.current_db is not None:
            self.spectrogram.set_track(self.current_db)
        self.timeline.set_position(None)
        self._show_result()
        self._update_transport()

    def seek(self, seconds: float) -> None:
        self.player.seek(seconds)
        self._follow_playhead()

    def _follow_playhead(self) -> None:
        if self.current_db is None:
            return
        pos = self.player.position
        self.spectrogram.show_window(self.current_db, pos)
        self.timeline.set_position(pos)
        row = self.model.row_for(self.current) if self.current else None
        if row is not None and row.result is not None:
            segs = [s for s in row.result.segments if s.start <= pos] or row.result.segments[:1]
            seg = segs[-1]
            caption = f"at {pos:.1f} s (segment {seg.start:.1f}–{seg.end:.1f} s)"
            labels = list(row.result.probabilities)
            if seg.genre is None or not labels:
                self.readout.show_no_signal(caption)
            else:
                self.readout.show_probabilities(
                    {lab: float(p) for lab, p in zip(labels, seg.probabilities, strict=True)},
                    caption,
                )
        if not self.player.playing:
            self.timer.stop()
            if self.player.finished:
                self.stop()
        self._update_transport()

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
        enabled = self.current_db is not None
        for w in (self.play_button, self.stop_button, self.slider):
            w.setEnabled(enabled)

    def file_count(self) -> int:
        return len(self.model.rows)
