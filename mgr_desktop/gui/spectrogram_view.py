"""Mel-spectrogram display: a pyqtgraph ImageItem with fixed levels and a 256-entry LUT.

Two uses: a whole track (set_track; for a long track an overview whose columns each stand for
several frames, growing as the file streams in) and a scrolling view (push columns, or show a
window of a track, or of a stretch of it, that follows the playhead). Axes: seconds, and Hz
on mel-spaced rows.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from mgr_desktop.dsp.display import band_frequencies, display_config

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis")


def lookup_table(name: str, points: int = 256) -> np.ndarray:
    """`points` RGB rows (uint8) of one of pyqtgraph's bundled colour maps."""
    cmap = pg.colormap.get(name)
    if cmap is None:  # get() answers None only for an unknown `source`, which we never pass
        raise ValueError(f"no colour map {name!r}")
    lut = cmap.getLookupTable(nPts=points)
    # Its type allows QColors (mode="qcolor"); the default mode gives an array.
    if not isinstance(lut, np.ndarray):
        raise TypeError(f"colour map {name!r} gave a {type(lut).__name__}, not an array")
    return lut


class SpectrogramView(pg.PlotWidget):
    def __init__(self, seconds_visible: float = 10.0, parent: object = None) -> None:
        super().__init__(parent=parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        plot = self.getPlotItem()
        assert plot is not None  # made by PlotWidget.__init__; only close() drops it
        self._plot: pg.PlotItem = plot
        # The range setters, typed: pyqtgraph forwards them to PlotItem at run time, unseen.
        self._view: pg.ViewBox = plot.getViewBox()
        # Plain seconds: pyqtgraph's SI prefixes turn an empty axis into "(x0.001)" and ms.
        bottom = plot.getAxis("bottom")
        bottom.enableAutoSIPrefix(False)
        plot.setLabel("bottom", "time (s)")
        plot.setLabel("left", "frequency (Hz)")
        self.levels = (-80.0, 20.0)
        self.seconds_visible = seconds_visible
        cfg = display_config()
        self._frame_seconds = cfg.hop_length / cfg.sample_rate
        self._scroll: np.ndarray | None = None  # (n_mels, 2 * width) double-written ring
        self._scroll_pos = 0
        self._width = 0
        self._slide = 0.0
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen("w", width=1))
        self.playhead.setVisible(False)
        self.addItem(self.playhead)
        self.set_colormap("inferno")
        # Before any audio: the axes a track will have, not pyqtgraph's -0.5..0.5 defaults.
        self.set_mel_axis(band_frequencies(cfg))
        self.set_time_range(0, seconds_visible)
        self._view.setYRange(0, cfg.n_mels, padding=0)

    # -- appearance -------------------------------------------------------------------------
    def set_colormap(self, name: str) -> None:
        self.image.setLookupTable(lookup_table(name if name in COLORMAPS else "inferno"))

    def set_levels(self, low: float, high: float) -> None:
        self.levels = (low, high)
        self.image.setLevels(self.levels)

    def set_mel_axis(self, band_hz: np.ndarray) -> None:
        """Label mel rows in Hz at round frequencies."""
        ticks = []
        for hz in (100, 250, 500, 1000, 2000, 4000, 8000, 16000):
            if band_hz[0] <= hz <= band_hz[-1]:
                ticks.append(
                    (
                        float(np.interp(hz, band_hz, np.arange(len(band_hz)))),
                        f"{hz // 1000}k" if hz >= 1000 else str(hz),
                    )
                )
        self._plot.getAxis("left").setTicks([ticks])

    def set_frame_seconds(self, seconds: float) -> None:
        self._frame_seconds = seconds

    def set_time_range(self, start: float, end: float) -> None:
        """Show `start` to `end` seconds (no padding); the image stays where it is."""
        self._view.setXRange(start, end, padding=0)

    # -- whole track ------------------------------------------------------------------------
    def set_track(
        self,
        db: np.ndarray,
        column_seconds: float | None = None,
        total_seconds: float | None = None,
    ) -> None:
        """Show (n_mels, columns) dB from 0 s, each column `column_seconds` long (a frame, by
        default); the time axis runs to `total_seconds` (the image's end, by default), so an
        image that is still growing fills the axis from the left."""
        step = column_seconds or self._frame_seconds
        self._show(db, 0.0, step)
        end = total_seconds or db.shape[1] * step
        self.set_time_range(0, max(end, step))

    def clear_picture(self) -> None:
        """No track: an empty picture (never the previous file's). Not `clear`: PlotWidget
        binds that name to PlotItem.clear, which would remove the image item itself."""
        self._show(np.zeros((self.image.height() or 1, 0), np.float32), 0.0)
        self.set_time_range(0, self.seconds_visible)

    def show_window(self, db: np.ndarray, end_seconds: float, start_seconds: float = 0.0) -> None:
        """Follow a playhead: the `seconds_visible` ending at `end_seconds` of `db`, whose
        first column is at `start_seconds` (0: a whole track; else a stretch of a long one)."""
        fs = self._frame_seconds
        width = int(self.seconds_visible / fs)
        end = int((end_seconds - start_seconds) / fs)
        first = min(max(0, end - width), max(0, db.shape[1] - 1))
        self._show(db[:, first : max(end, first + 1)], start_seconds + first * fs, fs)
        self.set_time_range(end_seconds - self.seconds_visible, end_seconds)

    def _show(self, db: np.ndarray, t0: float, column_seconds: float | None = None) -> None:
        data = np.ascontiguousarray(db, dtype=np.float32)
        if data.shape[1] == 0:  # nothing there yet: one column of silence
            data = np.full((data.shape[0] or 1, 1), self.levels[0], np.float32)
        step = column_seconds or self._frame_seconds
        self.image.setImage(data, levels=self.levels, autoLevels=False)
        self.image.setRect(QRectF(t0, 0, data.shape[1] * step, data.shape[0]))
        self._view.setYRange(0, data.shape[0], padding=0)

    # -- scrolling (live input) ---------------------------------------------------------------
    def reset_scroll(self, n_mels: int) -> None:
        self._width = int(self.seconds_visible / self._frame_seconds)
        self._scroll = np.full((n_mels, 2 * self._width), self.levels[0], np.float32)
        self._scroll_pos = 0
        # The axes of a scrolling view never change: set them once, not on every redraw.
        self.set_time_range(-self.seconds_visible, 0)
        self._view.setYRange(0, n_mels, padding=0)
        self._redraw_scroll()

    def push(self, cols: np.ndarray) -> None:
        """Append new columns; written twice so the visible window is one contiguous slice."""
        if self._scroll is None or cols.shape[1] == 0:
            return
        self._slide = 0.0
        w = self._width
        for c in cols[:, -w:].T:
            i = self._scroll_pos % w
            self._scroll[:, i] = c
            self._scroll[:, i + w] = c
            self._scroll_pos += 1
        self._redraw_scroll()

    def slide(self, seconds: float) -> None:
        """Move the image left by the time since its newest column, so the view scrolls
        smoothly between columns (which arrive only every hop, 43 times a second)."""
        if self._scroll is None:
            return
        self._slide = min(seconds, self._frame_seconds)
        self.image.setRect(self._scroll_rect())

    def _scroll_rect(self) -> QRectF:
        return QRectF(
            -self.seconds_visible - self._slide,
            0,
            self.seconds_visible,
            self._scroll.shape[0] if self._scroll is not None else 1,
        )

    def _redraw_scroll(self) -> None:
        if self._scroll is None:
            return
        start = self._scroll_pos % self._width
        view = self._scroll[:, start : start + self._width]
        self.image.setImage(view, levels=self.levels, autoLevels=False)
        self.image.setRect(self._scroll_rect())
