from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel import LogMel, cut_segments

CFG = FeatureConfig()
# Stated tolerance: within 0.01 dB of librosa wherever the power is above -80 dB re full scale.
TOL_DB = 0.01


def _music_like(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * CFG.sample_rate)) / CFG.sample_rate
    x = sum(
        rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(50, 8000) * t) for _ in range(12)
    )
    return (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _librosa_db(y: np.ndarray) -> np.ndarray:
    s = librosa.feature.melspectrogram(
        y=y, sr=CFG.sample_rate, n_fft=CFG.n_fft, hop_length=CFG.hop_length, n_mels=CFG.n_mels
    )
    return librosa.power_to_db(s, ref=1.0, amin=CFG.amin, top_db=None)


@pytest.mark.parametrize("seconds", [3.0, 7.3])
def test_matches_librosa_melspectrogram_and_power_to_db(seconds: float) -> None:
    y = _music_like(seconds, seed=int(seconds))
    ref = _librosa_db(y)
    ours = LogMel(CFG)(torch.from_numpy(y)).numpy()
    assert ours.shape == ref.shape
    loud = ref > -80
    assert loud.mean() > 0.5
    assert np.abs(ours[loud] - ref[loud]).max() < TOL_DB
    # below the fixed floor ours is clamped, by design
    assert ours.min() >= CFG.db_floor and ours.max() <= CFG.db_ceiling


def test_three_second_window_has_130_frames() -> None:
    assert CFG.segment_frames == 130
    out = LogMel(CFG)(torch.zeros(CFG.segment_samples))
    assert out.shape == (128, 130)


def test_batched_equals_one_by_one() -> None:
    mel = LogMel(CFG)
    batch = torch.from_numpy(np.stack([_music_like(3.0, s) for s in range(4)]))
    together = mel(batch)
    assert together.shape == (4, 128, 130)
    for i in range(4):
        torch.testing.assert_close(together[i], mel(batch[i]), atol=1e-4, rtol=0)


def test_silence_is_the_floor_not_minus_infinity() -> None:
    out = LogMel(CFG)(torch.zeros(CFG.segment_samples))
    assert torch.isfinite(out).all() and (out == CFG.db_floor).all()


def test_frame_windows_cover_the_track_end_to_end() -> None:
    db = torch.arange(1293, dtype=torch.float32).expand(128, -1)  # a 30 s track
    windows, times = cut_segments(db, CFG, hop_seconds=1.5)
    assert windows.shape[1:] == (128, 130)
    assert times[0][0] == 0.0
    assert windows[-1, 0, -1] == 1292  # last window ends on the last frame
    starts = [int(w[0, 0]) for w in windows]
    # the frame nearest to 1.5 i s (64.6 frames a hop), never a drifting whole-frame step
    assert starts[:3] == [0, 65, 129] and len(starts) == 19
    assert [t for t, _ in times[:3]] == [0.0, 1.5, 3.0]


def test_frame_windows_pad_a_short_signal_to_one_window() -> None:
    windows, times = cut_segments(torch.zeros(128, 60), CFG, 1.5)
    assert windows.shape == (1, 128, 130)
    assert (windows[0, :, 60:] == CFG.db_floor).all()
    assert times == [(0.0, 3.0)]


@pytest.mark.parametrize(
    "cfg",
    [
        FeatureConfig(),
        FeatureConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96),
        FeatureConfig(sample_rate=48000, n_fft=4096, hop_length=1024, n_mels=128),
        FeatureConfig(fmin=30.0, fmax=8000.0, n_mels=64),
    ],
)
def test_the_filterbank_and_band_centres_are_librosas(cfg: FeatureConfig) -> None:
    """Written out in numpy so the app never imports librosa; it must stay librosa's."""
    import librosa

    from mgr_desktop.dsp.mel import mel_filterbank, mel_frequencies

    ref = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax
    )
    np.testing.assert_allclose(mel_filterbank(cfg), ref, rtol=0, atol=1e-7)
    fmax = cfg.fmax if cfg.fmax is not None else cfg.sample_rate / 2
    centres = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=fmax)[1:-1]
    np.testing.assert_allclose(mel_frequencies(cfg), centres, rtol=1e-9)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize(
    "cfg", [FeatureConfig(), FeatureConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96)]
)
def test_the_cpu_path_equals_torch_stft(cfg: FeatureConfig, center: bool) -> None:
    """On the CPU, float32 goes through mel_cpu (pocketfft, blocked filterbank); any other
    dtype or device through torch.stft. Both give the same power, batch dimensions included."""
    wave = torch.from_numpy(np.random.default_rng(7).standard_normal((2, 3, 40000)) * 0.1)
    mel = LogMel(cfg)
    fast = mel.power(wave.float(), center)  # mel_cpu
    exact = LogMel(cfg).double().power(wave, center)  # torch.stft, float64
    assert fast.shape == exact.shape == (2, 3, cfg.n_mels, fast.shape[-1])
    torch.testing.assert_close(fast.double(), exact, rtol=1e-4, atol=1e-6)


def test_segments_start_at_their_nominal_times_without_drift() -> None:
    """musicnn's frames are 16 ms: a 3 s hop is 187.5 frames. Segment i starts at the frame
    nearest i x 3 s and reports i x 3 s; a whole-frame step would drift 8 ms a segment."""
    from mgr_desktop.config import MUSICNN_FEATURES as M
    from mgr_desktop.dsp.mel import segment_starts, segment_times

    starts = segment_starts(100 * 188, M, 3.0)
    assert starts[:4] == [0, 188, 375, 562]  # round(187.5 i): never more than half a frame off
    assert all(abs(s * 256 / 16000 - 3.0 * i) <= 0.0081 for i, s in enumerate(starts[:-1]))
    times = segment_times(starts, M, 3.0)
    assert [t for t, _ in times[:4]] == [0.0, 3.0, 6.0, 9.0]
    assert times[-1][0] == pytest.approx(starts[-1] * 256 / 16000)  # the end-aligned one
