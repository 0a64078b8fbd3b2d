"""The one streaming frame-cutter: samples in, the spans of the centred frames they complete
out. Frame t is centred on sample t·hop: the signal is zero-padded by n_fft // 2 at the start
and, at `finish`, at the end, as a centred STFT of the whole signal pads it. Only the last
n_fft samples of context are kept between blocks, so any block sizes give the same frames."""

from __future__ import annotations

import numpy as np


class CentredFrames:
    def __init__(self, n_fft: int, hop: int) -> None:
        self.n_fft, self.hop = n_fft, hop
        self._buf = np.zeros(n_fft // 2, np.float32)  # the centring pad
        self.frames = 0  # frames returned so far

    def push(self, block: np.ndarray) -> np.ndarray | None:
        """New samples -> the span (no padding to add) of the k frames they complete, k ≥ 1;
        None when they complete none."""
        block = np.asarray(block, np.float32)
        self._buf = np.concatenate([self._buf, block]) if len(self._buf) else block
        return self._take()

    def finish(self) -> np.ndarray | None:
        """The span of the last frames, the end padded as centred framing pads it."""
        self._buf = np.concatenate([self._buf, np.zeros(self.n_fft // 2, np.float32)])
        return self._take()

    def _take(self) -> np.ndarray | None:
        n = len(self._buf)
        if n < self.n_fft:
            return None
        k = 1 + (n - self.n_fft) // self.hop
        span = np.ascontiguousarray(self._buf[: (k - 1) * self.hop + self.n_fft])
        self._buf = self._buf[k * self.hop :].copy()  # a copy: the big block can be freed
        self.frames += k
        return span
