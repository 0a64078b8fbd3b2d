"""The window's own spectrogram settings, independent of whatever model is active.

The picture is a dB log-mel at about 23 ms per column and 128 bands, whatever rate the audio
arrives at; its axes come from these settings, never from a model's features.
"""

from __future__ import annotations

import numpy as np

from mgr_desktop.config import FeatureConfig

DISPLAY_RATE = 22050  # files are decoded for display at this rate
DISPLAY_MELS = 128


def display_config(sample_rate: int = DISPLAY_RATE) -> FeatureConfig:
    """dB log-mel settings for audio at `sample_rate`: ~93 ms FFT, ~23 ms hop, 128 bands."""
    n_fft = 1 << round(float(np.log2(0.093 * sample_rate)))
    return FeatureConfig(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=DISPLAY_MELS
    )


def band_frequencies(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency in Hz of each mel band (Slaney mel scale, as librosa's filters), in
    numpy: the window labels its axis before librosa, which costs ~0.5 s to import, loads."""
    fmax = cfg.fmax if cfg.fmax is not None else cfg.nyquist
    mels = np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(fmax), cfg.n_mels + 2)[1:-1]
    return _mel_to_hz(mels)


_F_SP, _MIN_LOG_HZ = 200.0 / 3, 1000.0
_MIN_LOG_MEL, _LOGSTEP = _MIN_LOG_HZ / _F_SP, np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return _MIN_LOG_MEL + float(np.log(hz / _MIN_LOG_HZ)) / _LOGSTEP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = mels * _F_SP
    log = mels >= _MIN_LOG_MEL
    hz[log] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mels[log] - _MIN_LOG_MEL))
    return hz
