"""The Slaney mel scale and filterbank in numpy, without torch: the window labels its axes
with it before torch loads, and `dsp.mel` builds its filters from it."""

from __future__ import annotations

import numpy as np

from mgr_desktop.config import FeatureConfig


def slaney_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) Slaney-normalised triangular filters on the Slaney mel scale,
    equal to `librosa.filters.mel`'s default (tested). Written out here (a dozen lines)
    because librosa pulls numba and LLVM in: ~130 MB of memory and ~0.5 s at start-up."""
    fmax = cfg.fmax if cfg.fmax is not None else cfg.nyquist
    fft_hz = np.linspace(0, cfg.sample_rate / 2, 1 + cfg.n_fft // 2)
    edges = mel_edges(cfg.fmin, fmax, cfg.n_mels)  # n_mels + 2 points
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney: each filter has unit area
    return weights.astype(np.float32)


def mel_frequencies(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency in Hz of each mel band, for axis labels."""
    fmax = cfg.fmax if cfg.fmax is not None else cfg.nyquist
    return mel_edges(cfg.fmin, fmax, cfg.n_mels)[1:-1]


_F_SP, _MIN_LOG_HZ = 200.0 / 3, 1000.0  # the Slaney scale: linear below 1 kHz, log above
_MIN_LOG_MEL, _LOGSTEP = _MIN_LOG_HZ / _F_SP, np.log(6.4) / 27.0


def mel_edges(fmin: float, fmax: float, n_mels: int) -> np.ndarray:
    """n_mels + 2 frequencies in Hz, equally spaced on the Slaney mel scale."""
    mels = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    hz = mels * _F_SP
    log = mels >= _MIN_LOG_MEL
    hz[log] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mels[log] - _MIN_LOG_MEL))
    return hz


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return _MIN_LOG_MEL + float(np.log(hz / _MIN_LOG_HZ)) / _LOGSTEP
