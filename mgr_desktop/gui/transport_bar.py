"""The Files tab's transport row: play / pause, stop, the position slider and time, and the
output device. It only shows the player's state; the Files panel connects its controls."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QWidget

from mgr_desktop.gui.device_box import DeviceBox

SLIDER_STEPS = 1000  # the slider's range: thousandths of the track


class TransportBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self.play_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "")
        self.play_button.setToolTip("Play / pause (Space)")
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "")
        self.stop_button.setToolTip("Stop")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.time_label = QLabel("0:00 / 0:00")
        self.output_device = DeviceBox("output")
        # Wide enough for "System default" (never "System c"); the window stays 700 px narrow.
        self.output_device.setMinimumContentsLength(14)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.play_button, self.stop_button):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time_label)
        row.addWidget(self.output_device)

    def show_state(self, loaded: bool, playing: bool, position: float, duration: float) -> None:
        p, d = position, duration
        self.time_label.setText(
            f"{int(p // 60)}:{int(p % 60):02d} / {int(d // 60)}:{int(d % 60):02d}"
        )
        if not self.slider.isSliderDown():  # the user's drag wins over the playhead
            self.slider.setValue(int(SLIDER_STEPS * p / d) if d else 0)
        icon = QStyle.StandardPixmap.SP_MediaPause if playing \
            else QStyle.StandardPixmap.SP_MediaPlay  # fmt: skip
        self.play_button.setIcon(self.style().standardIcon(icon))
        for w in (self.play_button, self.stop_button, self.slider):
            w.setEnabled(loaded)
