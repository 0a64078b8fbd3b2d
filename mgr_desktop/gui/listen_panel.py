"""Listen: live microphone spectrogram, level meter and genre readout. The panel remembers its
own settings: the input device."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui.device_box import DeviceBox
from mgr_desktop.gui.genre_readout import GenreReadout
from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.gui.spectrogram_view import SpectrogramView

READOUT_MS = 250  # four readouts a second from the last 3 s
REDRAW_MS = 16  # ~60 redraws a second: the view slides between the 43 new columns a second
OVERFLOW_REPORT_S = 5.0


class ListenPanel(QWidget):
    window_ready = Signal(object, float)  # 3 s of audio and its level, for the live worker
    session_started = Signal()  # to the live worker's reset slot
    message = Signal(str)

    def __init__(self, live_worker: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live_worker = live_worker  # only claim() is called here; the rest goes by signals
        self.input_device = DeviceBox("input")
        self.start_button = QPushButton("Start listening")
        self.start_button.setToolTip("Start or stop the microphone (Ctrl+L)")
        self.start_button.clicked.connect(self.toggle)
        self.level = QProgressBar()
        self.level.setRange(-60, 0)
        self.level.setFormat("%v dBFS")
        self.level.setValue(-60)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.spectrogram = SpectrogramView()
        self.readout = GenreReadout()
        top = QHBoxLayout()
        top.addWidget(QLabel("Input:"))
        top.addWidget(self.input_device, 1)
        top.addWidget(self.start_button)
        top.addWidget(QLabel("Level:"))
        top.addWidget(self.level, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.spectrogram, 3)
        layout.addWidget(self.readout, 2)

        self.capture: Any = None
        self.stream: Any = None  # MelStream
        self.cfg: Any = None
        self.has_model = False
        self.readouts = 0
        self.redraws = 0
        self._overflows_reported = 0
        self._last_overflow_report = 0.0
        self._newest_column_at = 0.0
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setInterval(REDRAW_MS)
        self.redraw_timer.timeout.connect(self._pump)
        self.readout_timer = QTimer(self)
        self.readout_timer.setInterval(READOUT_MS)
        self.readout_timer.timeout.connect(self._request_readout)

    # -- remembered between sessions --------------------------------------------------------
    def restore_settings(self, settings: Settings) -> None:
        """The input device, chosen once it is listed."""
        self.input_device.choose(str(settings.get(Key.INPUT_DEVICE) or ""))

    def save_settings(self, settings: Settings) -> None:
        settings.set(Key.INPUT_DEVICE, self.input_device.chosen)

    def list_devices(self) -> None:
        """The input devices, listed at the window's first show (listing loads PortAudio)."""
        if error := self.input_device.list_devices():
            self.message.emit(error)

    @property
    def running(self) -> bool:
        return self.capture is not None

    def set_feature_config(self, cfg: Any) -> None:
        """From the active model (or the defaults): rate and mel settings for the live view."""
        self.cfg = cfg

    def toggle(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        from mgr_desktop.audio.capture import Capture
        from mgr_desktop.audio.devices import AudioDeviceError
        from mgr_desktop.config import FeatureConfig
        from mgr_desktop.dsp.display import band_frequencies, display_config
        from mgr_desktop.dsp.mel import LogMel, MelStream

        cfg = self.cfg or FeatureConfig()
        capture = Capture(cfg.sample_rate, self.input_device.currentData())
        try:
            capture.start()
        except AudioDeviceError as e:
            self._fail(str(e))
            return
        self.capture = capture
        self.session_started.emit()  # the live worker forgets the last session's genres
        # The picture keeps its own settings at the capture's rate, whatever the model's.
        display = display_config(cfg.sample_rate)
        self.stream = MelStream(LogMel(display))
        self.spectrogram.set_frame_seconds(display.hop_length / display.sample_rate)
        self.spectrogram.set_mel_axis(band_frequencies(display))
        self.spectrogram.reset_scroll(display.n_mels)
        self.readouts = self.redraws = 0
        self._overflows_reported = 0
        self.status.setText(
            f"Listening at {capture.device_rate} Hz"
            + ("" if self.has_model else " · open or train a model to see genres")
        )
        self.readout.clear("listening…" if self.has_model else "needs a model")
        self.redraw_timer.start()
        self.readout_timer.start()
        self.start_button.setText("Stop listening")

    def stop(self, note: str = "") -> None:
        self.redraw_timer.stop()
        self.readout_timer.stop()
        if self.capture is not None:
            self.capture.stop()
        self.capture = None
        self.start_button.setText("Start listening")
        self.level.setValue(-60)
        if note:
            self.status.setText(note)

    def _fail(self, text: str) -> None:
        self.stop(text)
        self.status.setText(text)
        self.message.emit(text)

    def _pump(self) -> None:
        from mgr_desktop.audio.devices import AudioDeviceError

        cap = self.capture
        if cap is None:
            return
        try:
            cap.pump()
        except AudioDeviceError as e:
            self._fail(f"{e}. Capture stopped; press Start to listen again.")
            return
        cols = self.stream.update(cap.ring.written, cap.ring.latest)
        now = time.monotonic()
        if cols.shape[1]:
            self.spectrogram.push(cols)
            self._newest_column_at = now
        self.spectrogram.slide(now - self._newest_column_at)
        self.redraws += 1
        db = cap.level_db()
        self.level.setValue(int(max(-60, min(0, db))))
        self.level.setFormat("below -60 dBFS" if db < -60 else "%v dBFS")  # the meter's floor
        if cap.overflows > self._overflows_reported and \
                now - self._last_overflow_report > OVERFLOW_REPORT_S:  # fmt: skip
            self._overflows_reported = cap.overflows
            self._last_overflow_report = now
            self.message.emit(
                f"input overflow: {cap.overflows} audio blocks dropped so far "
                "(the computer is busy)"
            )

    def _request_readout(self) -> None:
        cap = self.capture
        if cap is None or not self.has_model:
            return
        seg = self.cfg.segment_samples if self.cfg else 66150
        if cap.ring.written < seg // 3 or not self.live_worker.claim():
            return  # too little audio yet, or never queue behind a slow model: drop this one
        self.window_ready.emit(cap.ring.latest(seg), cap.level_db())

    def on_readout(self, readout: Any) -> None:
        if not self.running:
            return
        self.readouts += 1
        level = "below -60" if readout.level_db < -60 else f"{readout.level_db:.0f}"
        caption = f"live · last 3 s · level {level} dBFS"
        if getattr(readout, "outside", False):
            self.readout.show_outside(readout.probabilities, caption)
        elif readout.genre is None:
            self.readout.show_no_signal(caption)
        else:
            self.readout.show_probabilities(readout.probabilities, caption)
