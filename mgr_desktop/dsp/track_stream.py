"""A track's features and analysis segments from blocks of samples, with bounded memory.

Pushing a whole track as one block gives exactly what `LogMel` and `cut_segments` give on the
whole waveform (centred framing, zero padding, the last segment aligned to the end); pushing
it in blocks of any size gives the same columns, so a 2-hour file never needs to be in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from mgr_desktop.dsp.mel import LogMel, segment_starts


class TrackFeatures:
    """Samples in, feature columns out: column t is centred on sample t·hop."""

    def __init__(self, mel: LogMel) -> None:
        self.mel = mel
        self.cfg = mel.cfg
        self._buf = np.zeros(self.cfg.n_fft // 2, np.float32)  # the centring pad
        self.samples = 0
        self.decoded = 0
        self._energy: list[np.ndarray] = []  # sum of squares per hop of samples
        self._partial = np.zeros(0, np.float32)

    def push(self, block: np.ndarray) -> torch.Tensor:
        """New samples -> the (n_mels, k) columns they complete (k may be 0)."""
        block = np.asarray(block, np.float32)
        self.samples += len(block)
        self._add_energy(block)
        self._buf = np.concatenate([self._buf, block])
        return self._columns()

    def finish(self) -> torch.Tensor:
        """The last columns: a track shorter than one segment is padded to one (as
        `pad_to_window`), then the end is padded like centred framing pads it."""
        self.decoded = self.samples  # the track's own length, before any padding
        short = self.cfg.segment_samples - self.samples
        cols = [self.push(np.zeros(short, np.float32))] if short > 0 else []
        self._buf = np.concatenate([self._buf, np.zeros(self.cfg.n_fft // 2, np.float32)])
        cols.append(self._columns())
        if len(self._partial):
            self._energy.append(np.array([np.square(self._partial, dtype=np.float64).sum()]))
            self._partial = np.zeros(0, np.float32)
        return torch.cat(cols, -1)

    @property
    def energy(self) -> np.ndarray:
        """Sum of squared samples per hop-long chunk, for segment levels."""
        return np.concatenate(self._energy) if self._energy else np.zeros(0)

    def _columns(self) -> torch.Tensor:
        hop, n_fft = self.cfg.hop_length, self.cfg.n_fft
        if len(self._buf) < n_fft:
            return torch.zeros(self.cfg.n_mels, 0)
        n = 1 + (len(self._buf) - n_fft) // hop
        span = self._buf[: (n - 1) * hop + n_fft]
        with torch.inference_mode():
            dev = self.mel.filters.device
            cols = self.mel(torch.from_numpy(np.ascontiguousarray(span)).to(dev), center=False)
        self._buf = self._buf[n * hop :]
        return cols

    def _add_energy(self, block: np.ndarray) -> None:
        hop = self.cfg.hop_length
        data = np.concatenate([self._partial, block]) if len(self._partial) else block
        whole = len(data) // hop * hop
        if whole:
            sq = np.square(data[:whole], dtype=np.float64).reshape(-1, hop).sum(1)
            self._energy.append(sq)
        self._partial = np.array(data[whole:], np.float32)


class SegmentCutter:
    """Feature columns in, analysis segments out, as soon as each is complete; the final
    segment, aligned to the track's end, comes from `finish`. Keeps only the columns that a
    pending segment still needs."""

    def __init__(self, cfg: object, hop_seconds: float) -> None:
        self.cfg = cfg
        self.hop_seconds = hop_seconds
        self.width = cfg.segment_frames  # type: ignore[attr-defined]
        self.step = cfg.seconds_to_frames(hop_seconds)  # type: ignore[attr-defined]
        self._cols = torch.zeros(cfg.n_mels, 0)  # type: ignore[attr-defined]
        self._first = 0  # frame index of self._cols[:, 0]
        self._next = 0  # start frame of the next regular segment
        self.total = 0
        self.starts: list[int] = []

    def push(self, cols: torch.Tensor) -> Iterator[torch.Tensor]:
        self._cols = torch.cat([self._cols, cols.cpu()], -1) if self._cols.numel() else cols.cpu()
        self.total += cols.shape[-1]
        while self._next + self.width <= self.total:
            yield self._take(self._next)
            self._next += self.step
        # Keep what the next regular segment and a segment ending at the last column need.
        keep_from = min(self._next, self.total - self.width)
        if keep_from > self._first:
            self._cols = self._cols[:, keep_from - self._first :]
            self._first = keep_from

    def finish(self) -> Iterator[torch.Tensor]:
        for s in segment_starts(self.total, self.cfg, self.hop_seconds):  # type: ignore[arg-type]
            if s not in self.starts:  # the end-aligned one, or all of a short track's
                yield self._take(s)

    def _take(self, start: int) -> torch.Tensor:
        self.starts.append(start)
        lo = start - self._first
        assert lo >= 0, "a segment reaches before the kept columns"
        return self._cols[:, lo : lo + self.width]
