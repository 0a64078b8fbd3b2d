"""One track's segments through the model as its feature columns arrive: the full analysis's
bookkeeping, apart from the engine that it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.track_stream import SegmentCutter

if TYPE_CHECKING:
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.inference.results import TrackResult


class TrackRun:
    """One track's segments through the model as its feature columns arrive; `finish` gives
    the verdict. Keeps only the segments' outputs and the columns a pending segment needs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cutter = SegmentCutter(engine.cfg, engine.hop_seconds)
        self.pending: list[torch.Tensor] = []
        self.logp: list[torch.Tensor] = []
        self.tags: list[torch.Tensor] = []
        self.embs: list[torch.Tensor] = []

    def push(self, columns: np.ndarray) -> None:
        self.pending.extend(self.cutter.push(columns))
        self._run()

    def finish(self, samples: int, energy: np.ndarray, path: str, note: str) -> TrackResult:
        """`samples`: decoded at the model's rate; `energy`: sums of squares per hop."""
        e = self.engine
        self.pending.extend(self.cutter.finish())
        self._run(final=True)
        starts = self.cutter.starts
        return e._verdict(
            path, samples / e.cfg.sample_rate, torch.cat(self.logp),
            torch.cat(self.tags) if self.tags else None,
            torch.cat(self.embs) if self.embs else None,
            starts, segment_levels(energy, starts, e.cfg), note,
        )  # fmt: skip

    def _run(self, final: bool = False) -> None:
        size = self.engine.batch_size
        while len(self.pending) >= size or (final and self.pending):
            batch, self.pending = self.pending[:size], self.pending[size:]
            lp, tg, em = self.engine.segment_outputs(torch.stack(batch))
            self.logp.append(lp)
            if tg is not None:
                self.tags.append(tg)
            if em is not None:
                self.embs.append(em)


def segment_levels(energy: np.ndarray, starts: list[int], cfg: FeatureConfig) -> np.ndarray:
    """RMS level in dBFS of each segment, from the track's per-hop sums of squares."""
    n = max(1, cfg.segment_samples // cfg.hop_length)
    cum = np.concatenate([[0.0], np.cumsum(energy)])
    out = np.empty(len(starts))
    for i, s in enumerate(starts):
        lo, hi = min(s, len(energy)), min(s + n, len(energy))
        power = (cum[hi] - cum[lo]) / (n * cfg.hop_length)
        out[i] = 10.0 * np.log10(max(power, 1e-20))
    return out
