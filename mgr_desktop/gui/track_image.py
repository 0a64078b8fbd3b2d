"""The detail spectrogram of a file, computed as it streams (no Qt here).

`ColumnStream` turns blocks of audio into the display log-mel's columns, the same columns as
one centred STFT over the whole track. `TrackImage` keeps them: every column for a song, or for
a long track an overview of at most `max_columns` columns, each the mean power of `step`
neighbours (the step doubles whenever the image would grow past the limit), so a two-hour
concert costs 2 MB, not 160. `window_columns` computes the full-resolution columns of a stretch
around the playhead from the audio there.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from mgr_desktop.dsp.frames import CentredFrames, read_frames
from mgr_desktop.dsp.mel import LogMel, compress

OVERVIEW_COLUMNS = 4000  # a long track's whole-track image, at most


class ColumnStream:
    """Blocks of audio -> mel power columns of a centred STFT with zero padding (as LogMel on
    the whole signal), cut by the one streaming frame-cutter (dsp/frames.py)."""

    def __init__(self, mel: LogMel) -> None:
        self.mel = mel
        self.hop = mel.cfg.hop_length
        self._frames = CentredFrames(mel.cfg.n_fft, self.hop)
        self.samples = 0

    def feed(self, x: np.ndarray) -> np.ndarray:
        self.samples += len(x)
        return self._power(self._frames.push(x))

    def finish(self) -> np.ndarray:
        """The last columns: pad the end as the centred STFT does; 1 + samples // hop in all."""
        before = self._frames.frames
        cols = self._power(self._frames.finish())
        return cols[:, : max(0, 1 + self.samples // self.hop - before)]

    def _power(self, span: np.ndarray | None) -> np.ndarray:
        if span is None:
            return np.zeros((self.mel.cfg.n_mels, 0), np.float32)
        with torch.inference_mode():
            return self.mel.power(torch.from_numpy(span), False).numpy()


def to_db(power: np.ndarray, mel: LogMel) -> np.ndarray:
    with torch.inference_mode():
        return compress(torch.from_numpy(np.ascontiguousarray(power)), mel.cfg).numpy()


class TrackImage:
    """Whole-track columns (mel power). `max_columns=None`: every column. Otherwise at most
    that many, each the mean of `step` columns."""

    def __init__(self, n_mels: int, max_columns: int | None = None, step: int = 1) -> None:
        self.n_mels = n_mels
        self.max = max_columns
        self.step = max(1, step)
        self._chunks: list[np.ndarray] = []  # every column (max_columns None)
        self._data = np.zeros((n_mels, max_columns or 0), np.float32)
        self.n = 0  # columns in _data (or in _chunks)
        self._pend = np.zeros(n_mels, np.float64)  # sum of the columns of an unfinished group
        self._pend_count = 0

    @property
    def columns(self) -> int:
        return self.n + (1 if self._pend_count else 0)

    def add(self, cols: np.ndarray) -> None:
        if self.max is None:
            if cols.shape[1]:
                self._chunks.append(cols)
                self.n += cols.shape[1]
            return
        i, k = 0, cols.shape[1]
        while i < k:
            if self._pend_count or k - i < self.step:
                take = min(self.step - self._pend_count, k - i)
                self._pend += cols[:, i : i + take].sum(1)
                self._pend_count += take
                i += take
                if self._pend_count == self.step:
                    group = (self._pend / self.step).astype(np.float32)
                    self._pend[:], self._pend_count = 0.0, 0
                    self._append(group[:, None])
                continue
            m = min((k - i) // self.step, self.max - self.n)
            if m == 0:
                self._halve()
                continue
            span = cols[:, i : i + m * self.step]
            self._append(span.reshape(self.n_mels, m, self.step).mean(-1))
            i += m * self.step

    def _append(self, groups: np.ndarray) -> None:
        assert self.max is not None
        if self.n + groups.shape[1] > self.max:
            self._halve()
        m = groups.shape[1]
        self._data[:, self.n : self.n + m] = groups
        self.n += m

    def _halve(self) -> None:
        """Twice the step, half the columns: average neighbours; an odd last column joins the
        unfinished group."""
        half = self.n // 2
        d = self._data
        d[:, :half] = 0.5 * (d[:, 0 : 2 * half : 2] + d[:, 1 : 2 * half : 2])
        if self.n % 2:
            self._pend += d[:, self.n - 1].astype(np.float64) * self.step
            self._pend_count += self.step
        self.n = half
        self.step *= 2

    def power(self) -> np.ndarray:
        """(n_mels, columns) mean power, the unfinished group included."""
        if self.max is None:
            if not self._chunks:
                return np.zeros((self.n_mels, 0), np.float32)
            if len(self._chunks) > 1:
                self._chunks = [np.concatenate(self._chunks, axis=1)]
            return self._chunks[0]
        out = self._data[:, : self.n]
        if self._pend_count:
            last = (self._pend / self._pend_count).astype(np.float32)[:, None]
            out = np.concatenate([out, last], axis=1)
        return out.copy()

    def decimate_to(self, max_columns: int) -> TrackImage:
        """The same track as an overview of at most max_columns (a song that turned out long)."""
        ov = TrackImage(self.n_mels, max_columns)
        ov.add(self.power())
        return ov


def overview_step(estimated_frames: int, max_columns: int = OVERVIEW_COLUMNS) -> int:
    return max(1, -(-estimated_frames // max_columns))


def window_columns(
    path: str | os.PathLike[str], mel: LogMel, start_frame: int, frames: int
) -> np.ndarray:
    """Columns start_frame .. start_frame + frames of the centred whole-track STFT, decoded
    from the file around there (seeking), in dB."""
    from mgr_desktop.audio.stream import open_audio

    cfg = mel.cfg
    with open_audio(path, cfg.sample_rate) as audio:
        x, _ = read_frames(audio, start_frame, frames, cfg.n_fft, cfg.hop_length)
    with torch.inference_mode():
        db = mel(torch.from_numpy(x), center=False)
    return db.numpy()
