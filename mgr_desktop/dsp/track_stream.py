"""A track's features and analysis segments from blocks of samples, with bounded memory.

Pushing a whole track as one block gives exactly what `LogMel` and `cut_segments` give on the
whole waveform (centred framing, zero padding, the last segment aligned to the end); pushing
it in blocks of any size gives the same columns, so a 2-hour file never needs to be in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from mgr_desktop.dsp.mel import nominal_frame, segment_starts
from mgr_desktop.dsp.track_features import TrackFeatures

__all__ = ["SegmentCutter", "TrackFeatures"]


class SegmentCutter:
    """Feature columns in, analysis segments out, as soon as each is complete; the final
    segment, aligned to the track's end, comes from `finish`. Keeps only the columns that a
    pending segment still needs."""

    def __init__(self, cfg: object, hop_seconds: float) -> None:
        self.cfg = cfg
        self.hop_seconds = hop_seconds
        self.width = cfg.segment_frames  # type: ignore[attr-defined]
        self._cols = torch.zeros(cfg.n_mels, 0)  # type: ignore[attr-defined]
        self._first = 0  # frame index of self._cols[:, 0]
        self._index = 0  # the next regular segment's number
        self._next = 0  # and its start frame (mel.nominal_frame)
        self.total = 0
        self.starts: list[int] = []

    def push(self, cols: torch.Tensor | np.ndarray) -> Iterator[torch.Tensor]:
        cols = torch.as_tensor(cols)
        self._cols = torch.cat([self._cols, cols.cpu()], -1) if self._cols.numel() else cols.cpu()
        self.total += cols.shape[-1]
        while self._next + self.width <= self.total:
            yield self._take(self._next)
            self._index += 1
            self._next = nominal_frame(self._index, self.cfg, self.hop_seconds)  # type: ignore[arg-type]
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
