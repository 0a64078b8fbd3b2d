"""The only log-mel implementation: an STFT + the Slaney mel filterbank (librosa's default).

Runs batched on the CPU (pocketfft through scipy: `LogMel._power_cpu`), CUDA or MPS
(torch.stft). Matches `librosa.feature.melspectrogram` followed by `librosa.power_to_db(ref=1.0,
top_db=None)` (tested), then clamps to a fixed dB range; or, for musicnn-based models,
log10(1 + gain·power) (`FeatureConfig.compression`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import numpy as np
import scipy.fft
import torch

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel_scale import mel_frequencies, slaney_filterbank

__all__ = ["mel_frequencies"]  # re-exported: the scale itself lives in mel_scale (no torch)


@functools.lru_cache(maxsize=8)
def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    return slaney_filterbank(cfg)


def pad_to_window(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Zero-pad a clip shorter than one window, the same way for training and inference."""
    if len(wave) >= cfg.segment_samples:
        return wave
    return np.pad(wave, (0, cfg.segment_samples - len(wave)))


class LogMel(torch.nn.Module):
    """waveform (..., samples) -> log-mel in dB (..., n_mels, frames), clamped to the config."""

    window: torch.Tensor  # buffers, declared so type checkers know them
    filters: torch.Tensor
    filters_t: torch.Tensor

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # torch's default hann_window is periodic, which is what librosa's "hann" uses.
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        filters = torch.from_numpy(mel_filterbank(cfg))
        self.register_buffer("filters", filters, persistent=False)
        self.register_buffer("filters_t", filters.T.contiguous(), persistent=False)
        # For the CPU path (`_power_cpu`, float32 only): the window as numpy, and the filterbank
        # as blocks of neighbouring bands with the bins they touch (a mel filter is zero
        # outside a narrow range, so 8 blocks do an eighth of the dense product's work).
        self._window_np = torch.hann_window(cfg.n_fft).numpy()
        self._filter_blocks = _filter_blocks(filters.T.contiguous().float())

    def power(self, wave: torch.Tensor, center: bool = True) -> torch.Tensor:
        if wave.device.type == "cpu" and wave.dtype == self.filters_t.dtype == torch.float32:
            return self._power_cpu(wave.numpy(force=True), center)
        lead = wave.shape[:-1]
        spec = torch.stft(
            wave.reshape(-1, wave.shape[-1]),
            n_fft=self.cfg.n_fft,
            hop_length=self.cfg.hop_length,
            window=self.window,
            center=center,
            pad_mode="constant",
            return_complex=True,
        )
        # torch.stft's result is frames-major underneath: (frames, freq) @ (freq, mels) on the
        # transposed views runs ~2x faster than filters @ power on one core.
        spec = spec.transpose(-1, -2)
        power = (spec * spec.conj()).real  # |X|^2; 5x faster on CPU than view_as_real().pow(2)
        mel = torch.matmul(power, self.filters_t).transpose(-1, -2)
        return mel.reshape(*lead, *mel.shape[-2:])

    def _power_cpu(self, wave: np.ndarray, center: bool) -> torch.Tensor:
        """The same numbers on the CPU, about 5x faster than torch.stft there: pocketfft's
        float32 rfft (scipy) on strided frames and |X|^2 from the real and imaginary parts,
        a few hundred frames at a time so each step stays in cache. The filterbank products
        are torch's, so they keep to torch's thread count (numpy's BLAS would start its own)."""
        n_fft, hop = self.cfg.n_fft, self.cfg.hop_length
        lead, x = wave.shape[:-1], wave.reshape(-1, wave.shape[-1])
        if center:
            x = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)))
        if x.shape[-1] < n_fft:
            raise ValueError(f"{x.shape[-1]} samples are fewer than one {n_fft}-sample frame")
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, ::hop]
        out = torch.zeros(x.shape[0], frames.shape[1], self.cfg.n_mels)
        for b in range(x.shape[0]):
            for lo in range(0, frames.shape[1], _FRAMES_PER_STEP):
                chunk = frames[b, lo : lo + _FRAMES_PER_STEP] * self._window_np
                spec = cast(np.ndarray, scipy.fft.rfft(chunk, axis=-1))
                power = np.square(np.real(spec))
                power += np.square(np.imag(spec))
                rows, p = out[b, lo : lo + len(power)], torch.from_numpy(power)
                for bands, bins, block in self._filter_blocks:
                    rows[:, bands] = torch.mm(p[:, bins], block)
        return out.transpose(-1, -2).reshape(*lead, self.cfg.n_mels, frames.shape[1])

    def forward(self, wave: torch.Tensor, center: bool = True) -> torch.Tensor:
        return compress(self.power(wave, center), self.cfg)


_FRAMES_PER_STEP = 256  # 2 MB of float32 frames: measured fastest on a 1 MB-L2 CPU


def _filter_blocks(filters_t: torch.Tensor, n: int = 8) -> list[tuple[slice, slice, torch.Tensor]]:
    """(bands, bins, filters_t[bins, bands]) for `n` runs of neighbouring mel bands, each
    restricted to the FFT bins where one of its filters is non-zero; all-zero bands are left
    out (they stay 0)."""
    out = []
    for bands in np.array_split(np.arange(filters_t.shape[1]), n):
        if not len(bands):
            continue
        used = np.nonzero(filters_t[:, bands].abs().sum(1).numpy())[0]
        if not len(used):
            continue
        b, k = slice(int(bands[0]), int(bands[-1]) + 1), slice(int(used[0]), int(used[-1]) + 1)
        out.append((b, k, filters_t[k, b].contiguous()))
    return out


class MelStream:
    """New log-mel columns for a live signal, for the scrolling spectrogram: each call returns
    the frames completed since the last one (no centre padding; n_fft of context)."""

    def __init__(self, mel: LogMel) -> None:
        self.mel = mel
        self.cfg = mel.cfg
        self.next_frame_end = mel.cfg.n_fft  # sample index where the next frame ends

    def update(
        self, written: int, latest: Callable[[int], np.ndarray], max_frames: int = 512
    ) -> np.ndarray:
        hop, n_fft = self.cfg.hop_length, self.cfg.n_fft
        if written < self.next_frame_end:
            return np.zeros((self.cfg.n_mels, 0), np.float32)
        frames = 1 + (written - self.next_frame_end) // hop
        if frames > max_frames:  # fell behind (e.g. the window was hidden): skip ahead
            self.next_frame_end += (frames - max_frames) * hop
            frames = max_frames
        span = n_fft + (frames - 1) * hop
        end = self.next_frame_end + (frames - 1) * hop
        chunk = latest(written - end + span)[:span]
        with torch.inference_mode():
            cols = self.mel(torch.from_numpy(chunk), center=False).numpy()
        self.next_frame_end = end + hop
        return cols


def compress(power: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Mel power -> the features the config names (dB, or musicnn's log10(1 + gain·power))."""
    if cfg.compression == "log10_1p":
        return torch.log10(1.0 + cfg.log_gain * power)
    return power_to_db(power, cfg)


def power_to_db(power: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    ref_db = 10.0 * np.log10(max(cfg.amin, cfg.ref_power))
    db = 10.0 * torch.log10(power.clamp_min(cfg.amin)) - ref_db
    return db.clamp(cfg.db_floor, cfg.db_ceiling)


def normalise(db: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Features -> model input scale (roughly zero mean, unit variance on music). musicnn's
    features go in as they are: the network's first layer normalises them."""
    if cfg.compression != "db":
        return db
    return (db - cfg.norm_mean) / cfg.norm_std


def segment_starts(total_frames: int, cfg: FeatureConfig, hop_seconds: float) -> list[int]:
    """First frame of each analysis segment of a track `total_frames` long (at least one
    segment); the last is aligned to the end so the tail of the track is always covered."""
    width = cfg.segment_frames
    total = max(total_frames, width)
    step = cfg.seconds_to_frames(hop_seconds)
    starts = list(range(0, total - width + 1, step))
    if starts[-1] != total - width:
        starts.append(total - width)
    return starts


def segment_times(starts: list[int], cfg: FeatureConfig) -> list[tuple[float, float]]:
    return [
        (cfg.frame_to_seconds(s), cfg.frame_to_seconds(s) + cfg.segment_seconds) for s in starts
    ]


def cut_segments(
    db: torch.Tensor, cfg: FeatureConfig, hop_seconds: float
) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """Cut a whole-track log-mel (n_mels, frames) into (n, n_mels, segment_frames) windows.

    Training crops from the same whole-track features, so train and inference see identical
    framing. Returns the windows and their (start, end) times in seconds.
    """
    width = cfg.segment_frames
    total = db.shape[-1]
    if total < width:
        db = torch.nn.functional.pad(db, (0, width - total), value=cfg.floor_value)
    starts = segment_starts(total, cfg, hop_seconds)
    windows = db.unfold(-1, width, 1)[..., starts, :]  # (n_mels, n, width): a view, no copy
    return windows.movedim(-2, 0), segment_times(starts, cfg)
