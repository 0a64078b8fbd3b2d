"""A track's feature columns from blocks of samples, with bounded memory.

Pushing a whole track as one block gives exactly what `LogMel` gives on the whole waveform
(centred framing, zero padding, a track shorter than a segment padded to one); pushing it in
blocks of any size gives the same columns, so a 2-hour file never needs to be in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.frames import CentredFrames


class TrackFeatures:
    """Samples in, feature columns out: column t is centred on sample t·hop."""

    def __init__(self, columns: Callable[[np.ndarray], np.ndarray], cfg: FeatureConfig) -> None:
        self.columns = columns  # samples (no centre padding) -> features (n_mels, frames)
        self.cfg = cfg
        self._frames = CentredFrames(cfg.n_fft, cfg.hop_length)
        self.samples = 0
        self.decoded = 0
        self._energy: list[np.ndarray] = []  # sum of squares per hop of samples
        self._partial = np.zeros(0, np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        """New samples -> the (n_mels, k) columns they complete (k may be 0)."""
        block = np.asarray(block, np.float32)
        self.samples += len(block)
        self._add_energy(block)
        return self._columns(self._frames.push(block))

    def finish(self) -> np.ndarray:
        """The last columns: a track shorter than one segment is padded to one (as
        `pad_to_window`), then the end is padded like centred framing pads it."""
        self.decoded = self.samples  # the track's own length, before any padding
        short = self.cfg.segment_samples - self.samples
        cols = [self.push(np.zeros(short, np.float32))] if short > 0 else []
        cols.append(self._columns(self._frames.finish()))
        if len(self._partial):
            self._energy.append(np.array([np.square(self._partial, dtype=np.float64).sum()]))
            self._partial = np.zeros(0, np.float32)
        return np.concatenate(cols, -1)

    @property
    def energy(self) -> np.ndarray:
        """Sum of squared samples per hop-long chunk, for segment levels."""
        return np.concatenate(self._energy) if self._energy else np.zeros(0)

    def _columns(self, span: np.ndarray | None) -> np.ndarray:
        if span is None:
            return np.zeros((self.cfg.n_mels, 0), np.float32)
        return self.columns(span)

    def _add_energy(self, block: np.ndarray) -> None:
        hop = self.cfg.hop_length
        data = np.concatenate([self._partial, block]) if len(self._partial) else block
        whole = len(data) // hop * hop
        if whole:
            sq = np.square(data[:whole], dtype=np.float64).reshape(-1, hop).sum(1)
            self._energy.append(sq)
        self._partial = np.array(data[whole:], np.float32)
