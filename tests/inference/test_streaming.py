"""Streaming classification: a file in blocks gives what the whole waveform gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mgr_desktop.audio.decode import decode_file
from mgr_desktop.dsp.mel import LogMel, cut_segments, pad_to_window
from mgr_desktop.dsp.track_stream import SegmentCutter, TrackFeatures
from mgr_desktop.inference.engine import Engine
from tests.helpers import write


@pytest.fixture(scope="module")
def engine(cnn_model: Path) -> Engine:
    return Engine.from_file(cnn_model, "cpu", hop_seconds=1.5)  # overlapping: 39 a minute


@pytest.fixture(scope="module")
def minute(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of 44.1 kHz stereo music-like noise: the stream resamples and downmixes."""
    rng = np.random.default_rng(7)
    sr = 44100
    t = np.arange(60 * sr) / sr
    notes = 220 * 2 ** (rng.integers(0, 12, 60) / 12)
    tone = 0.3 * np.sin(2 * np.pi * notes[(t).astype(int)] * t)
    left = tone + 0.05 * rng.standard_normal(len(t))
    right = 0.5 * tone + 0.05 * rng.standard_normal(len(t))
    path = tmp_path_factory.mktemp("stream") / "minute.wav"
    return write(path, np.stack([left, right], 1).astype(np.float32), sr, subtype="PCM_24")


def _probs(result) -> np.ndarray:
    return np.stack([s.probabilities for s in result.segments])


@pytest.mark.parametrize("block_seconds", [1.37, 7.3, 25.0])
def test_blocks_of_any_size_give_the_whole_file_result(
    engine: Engine, minute: Path, block_seconds: float
) -> None:
    whole = engine.classify_waveform(decode_file(minute, engine.cfg.sample_rate).samples)
    streamed = engine.classify_file(minute, block_seconds=block_seconds)
    assert [(s.start, s.end) for s in streamed.segments] == [
        (s.start, s.end) for s in whole.segments
    ]
    assert len(streamed.segments) == 39 and streamed.segments[-1].end == pytest.approx(60, abs=0.03)
    np.testing.assert_allclose(_probs(streamed), _probs(whole), atol=1e-5)
    assert streamed.duration == pytest.approx(60.0, abs=1e-3)
    assert streamed.genre == whole.genre


def test_features_in_blocks_equal_the_whole_track_log_mel(engine: Engine) -> None:
    wave = np.random.default_rng(1).standard_normal(22050 * 10).astype(np.float32) * 0.1
    whole = LogMel(engine.cfg)(torch.from_numpy(pad_to_window(wave, engine.cfg)))
    feats = TrackFeatures(engine.feature_columns, engine.cfg)
    cols = [feats.push(b) for b in np.array_split(wave, [1000, 1001, 5000, 77777])]
    cols.append(feats.finish())
    streamed = torch.from_numpy(np.concatenate(cols, -1))
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-3, rtol=0)  # dB


def test_segments_cut_in_blocks_equal_frame_windows(engine: Engine) -> None:
    db = torch.randn(engine.cfg.n_mels, 1000)
    expected, _ = cut_segments(db, engine.cfg, 1.5)
    cutter = SegmentCutter(engine.cfg, 1.5)
    got = [w for i in range(0, 1000, 37) for w in cutter.push(db[:, i : i + 37])]
    got += list(cutter.finish())
    assert len(got) == len(expected)
    torch.testing.assert_close(torch.stack(got), expected)


def test_a_silent_stretch_does_not_vote(engine: Engine) -> None:
    rng = np.random.default_rng(3)
    sound = rng.standard_normal(22050 * 12).astype(np.float32) * 0.1
    with_silence = np.concatenate([np.zeros(22050 * 12, np.float32), sound])
    result = engine.classify_waveform(with_silence)
    # (times are nominal: a segment reported as ending at 12.0 may reach 25 ms past it)
    quiet = [s for s in result.segments if s.end <= 11.9]
    assert quiet and all(s.genre is None for s in quiet)
    assert result.genre is not None
    loud_only = engine.classify_waveform(sound)
    # the verdict comes from the audible segments alone: the same as the sound by itself
    # (segment boundaries fall on the same samples, since 12 s is a whole number of hops)
    assert result.genre == loud_only.genre
