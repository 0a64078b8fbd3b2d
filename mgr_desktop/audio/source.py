"""What every decoder source gives the stream: mono float32 pieces at the file's own rate,
a seek, and a check at the end (truncation or a note). The stream (`stream.py`) picks one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mgr_desktop.errors import FileError


class AudioDecodeError(FileError):
    """A file that cannot become audio."""


def downmix(x: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> mono by the plain mean: column by column, the same values
    as x.mean(axis=1, dtype=float32), and 10x faster for interleaved stereo."""
    channels = x.shape[1]
    if channels == 1:
        return sanitise(np.ascontiguousarray(x[:, 0]))
    mono = x[:, 0].copy()
    for i in range(1, channels):
        mono += x[:, i]
    mono /= np.float32(channels)
    return sanitise(mono)


def sanitise(x: np.ndarray) -> np.ndarray:
    """Zero NaN and Inf: they would poison every window they touch."""
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return x


class UseFFmpeg(Exception):
    """libsndfile opened it, but its length for this encoding is an estimate (MPEG)."""


class Source:
    decoder = ""
    codec = ""
    rate = 0
    channels = 0
    estimated_seconds: float | None = None

    def read(self, frames: int) -> Iterator[np.ndarray]:
        """Mono float32 at the source rate, in pieces of about `frames`."""
        raise NotImplementedError

    def seek(self, seconds: float) -> float:
        """Start read() at `seconds` from the start; returns where it will start."""
        raise NotImplementedError

    def finish(self, decoded_seconds: float) -> str:
        """After read() ends: raise if the file is truncated, else return a note ("" if none)."""
        return ""

    def close(self) -> None:
        pass
