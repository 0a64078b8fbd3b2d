"""The one streaming frame-cutter: samples in, the spans of the centred frames they complete
out. Frame t is centred on sample t·hop: the signal is zero-padded by n_fft // 2 at the start
and, at `finish`, at the end, as a centred STFT of the whole signal pads it. Only the last
n_fft samples of context are kept between blocks, so any block sizes give the same frames."""

from __future__ import annotations

from typing import Protocol

import numpy as np


def span_samples(frames: int, n_fft: int, hop: int) -> int:
    """Samples that `frames` consecutive frames are computed from."""
    return (frames - 1) * hop + n_fft


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
        span = np.ascontiguousarray(self._buf[: span_samples(k, self.n_fft, self.hop)])
        self._buf = self._buf[k * self.hop :].copy()  # a copy: the big block can be freed
        self.frames += k
        return span


class Seekable(Protocol):
    """An open audio file that reads spans by seeking (audio.stream.AudioStream)."""

    sample_rate: int

    def span(self, start_seconds: float, seconds: float) -> np.ndarray: ...


def read_frames(
    audio: Seekable, start_frame: int, frames: int, n_fft: int, hop: int
) -> tuple[np.ndarray, int]:
    """The samples that centred frames `start_frame` .. + `frames` - 1 are computed from,
    read by seeking and padded with zeros before the file's start and after its end as a
    centred STFT of the whole file pads them; and how many samples at the end are that pad."""
    first = start_frame * hop - n_fft // 2  # negative inside the centring pad
    need = span_samples(frames, n_fft, hop)
    lead = max(0, -first)
    rate = audio.sample_rate
    got = audio.span(max(0, first) / rate, (need - lead) / rate)[: need - lead]
    missing = need - lead - len(got)
    pads = np.zeros(lead, np.float32), np.zeros(missing, np.float32)
    return np.concatenate([pads[0], got, pads[1]]), missing
