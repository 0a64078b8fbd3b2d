"""A long track's verdict from a few segments spread over it, decoded by seeking."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from mgr_desktop.audio.decode import AudioDecodeError, open_audio
from mgr_desktop.dsp.frames import read_frames
from mgr_desktop.dsp.track_features import TrackFeatures
from mgr_desktop.inference import result_codec as codec
from mgr_desktop.inference.engine import Engine
from mgr_desktop.inference.sampled import classify_sampled
from mgr_desktop.inference.track_audio import sampled_starts
from tests.helpers import write


def song(seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """A tone whose pitch and loudness change every second, with a little noise: every
    segment differs from its neighbours, so a misplaced span would show."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    pitch = 200 + 600 * rng.random(int(seconds) + 1)[t.astype(int)]
    level = 0.1 + 0.4 * rng.random(int(seconds) + 1)[t.astype(int)]
    wave = level * np.sin(2 * np.pi * np.cumsum(pitch) / sr) + 0.01 * rng.standard_normal(len(t))
    return wave.astype(np.float32)


def test_starts_sit_in_the_middle_of_equal_parts() -> None:
    starts = sampled_starts(total_frames=1000, width=100, count=4)
    assert starts == [112, 338, 562, 788]  # 900 frames of room, the middle of each quarter
    assert all(0 <= s <= 900 for s in sampled_starts(1000, 100, 50))
    assert sampled_starts(50, 100, 3) == [0]  # shorter than a segment: one, at the start


def test_a_sampled_segment_equals_the_full_analysis_there(tmp_path: Path, cnn_model: Path) -> None:
    wave = song(40.0)
    path = write(tmp_path / "long.wav", wave, 22050)
    engine = Engine.from_file(cnn_model, "cpu", hop_seconds=3.0)
    with open_audio(path, 22050) as audio:  # the file's own 16-bit samples
        decoded = np.concatenate(list(audio.blocks()))
    stream = TrackFeatures(engine.feature_columns, engine.cfg)  # as the full analysis cuts
    full = np.concatenate([stream.push(decoded), stream.finish()], 1)
    width = engine.cfg.segment_frames
    cfg = engine.cfg
    with open_audio(path, cfg.sample_rate) as audio:  # one open file, seeking back and forth
        for start in (0, 1, 517, full.shape[1] - width, 0, 300):
            span, missing = read_frames(audio, start, width, cfg.n_fft, cfg.hop_length)
            assert missing <= cfg.n_fft // 2  # at most the end's centring pad
            cols = engine.feature_columns(span)[:, :width]
            np.testing.assert_allclose(cols, full[:, start : start + width], atol=1e-4)


def test_long_files_get_a_sampled_verdict_and_short_ones_the_full_analysis(
    tmp_path: Path, cnn_model: Path
) -> None:
    long = write(tmp_path / "long.flac", song(70.0, seed=1), 22050)
    mp3 = tmp_path / "long.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(long), "-b:a", "128k", str(mp3)],
                   check=True)  # fmt: skip
    short = write(tmp_path / "short.wav", song(20.0, seed=2), 22050)
    engine = Engine.from_file(cnn_model, "cpu", hop_seconds=3.0, sample_segments=5)
    for path in (long, mp3):
        r = engine.classify_file(path)
        assert len(r.segments) == 5 and not r.note and r.sampled, path
        assert codec.decode(str(path), *codec.encode(r)).sampled  # the cache keeps it
        assert r.duration == pytest.approx(70.0, abs=0.1)
        starts = [s.start for s in r.segments]
        assert starts == sorted(starts) and starts[0] > 3.0 and starts[-1] < 64.0  # spread
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert classify_sampled(engine, short, 5) is None  # 20 s < 1.5 x 5 segments: not worth it
    full = engine.classify_file(short)
    assert len(full.segments) == 7 and not full.sampled


def test_the_sampled_verdict_agrees_with_the_full_one_on_a_steady_track(
    tmp_path: Path, cnn_model: Path
) -> None:
    torch.manual_seed(0)
    path = write(tmp_path / "steady.wav", song(90.0, seed=3), 22050)
    full = Engine.from_file(cnn_model, "cpu", hop_seconds=3.0).classify_file(path)
    quick = Engine.from_file(cnn_model, "cpu", hop_seconds=3.0, sample_segments=10)
    sampled = quick.classify_file(path)
    assert len(sampled.segments) == 10 < len(full.segments)
    p_full = np.array(list(full.probabilities.values()))
    p_sampled = np.array(list(sampled.probabilities.values()))
    assert np.abs(p_full - p_sampled).max() < 0.05  # a mean over 10 of 30 similar segments


def test_a_cut_file_says_so_as_the_full_analysis_does(tmp_path: Path, cnn_model: Path) -> None:
    wav = write(tmp_path / "long.wav", song(150.0, seed=4), 22050)
    mp3 = tmp_path / "long.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-b:a", "128k", str(mp3)],
                   check=True)  # fmt: skip
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(mp3.read_bytes()[:-300])  # the last frame cut off
    engine = Engine.from_file(cnn_model, "cpu", hop_seconds=3.0, sample_segments=5)
    full = Engine.from_file(cnn_model, "cpu", hop_seconds=3.0).classify_file(cut)
    quick = engine.classify_file(cut)
    assert len(quick.segments) == 5 and full.note and quick.note == full.note
    assert quick.duration == pytest.approx(full.duration, abs=0.05)
    cut_wav = tmp_path / "cut.wav"
    cut_wav.write_bytes(wav.read_bytes()[: wav.stat().st_size // 3])  # header says 150 s
    with pytest.raises(AudioDecodeError, match="truncated"):  # an error, as in full analysis
        engine.classify_file(cut_wav)
