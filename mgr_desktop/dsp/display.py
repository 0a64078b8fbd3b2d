"""The window's own spectrogram settings, independent of whatever model is active.

The picture is a dB log-mel at about 23 ms per column and 128 bands, whatever rate the audio
arrives at; its axes come from these settings, never from a model's features.
"""

from __future__ import annotations

import numpy as np

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel_scale import mel_frequencies

DISPLAY_RATE = 22050  # files are decoded for display at this rate
DISPLAY_MELS = 128


def display_config(sample_rate: int = DISPLAY_RATE) -> FeatureConfig:
    """dB log-mel settings for audio at `sample_rate`: ~93 ms FFT, ~23 ms hop, 128 bands."""
    n_fft = 1 << round(float(np.log2(0.093 * sample_rate)))
    return FeatureConfig(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=DISPLAY_MELS
    )


def band_frequencies(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency in Hz of each mel band, for the axis labels."""
    return mel_frequencies(cfg)
