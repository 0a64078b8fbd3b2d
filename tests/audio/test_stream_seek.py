"""open_audio(start_seconds=...): playback seeks by re-opening a file at a position, and gets
the same samples as decoding from the start and skipping to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.audio.decode import decode_file, open_audio
from tests.audio.media import FFMPEG, ffmpeg, music_like
from tests.helpers import write

SR = 22050


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("seek")
    wav = write(d / "a.wav", music_like(40.0), 44100, subtype="PCM_16")
    out = {"wav": wav, "flac": write(d / "a.flac", music_like(40.0), 44100)}
    if FFMPEG:
        ffmpeg("-i", wav, "-b:a", "128k", d / "a.mp3")
        ffmpeg("-i", wav, "-c:a", "aac", d / "a.m4a")
        out |= {"mp3": d / "a.mp3", "m4a": d / "a.m4a"}
    return out


@pytest.mark.parametrize("kind", ["wav", "flac", "mp3", "m4a"])
@pytest.mark.parametrize("start", [0.5, 17.2, 39.0])  # whole output samples at 44.1k
def test_starting_at_a_position_gives_the_samples_from_there(
    files: dict[str, Path], kind: str, start: float
) -> None:
    if kind not in files:
        pytest.skip("ffmpeg is not installed")
    whole = decode_file(files[kind], SR).samples
    with open_audio(files[kind], SR, start_seconds=start) as audio:
        assert audio.start_seconds == pytest.approx(start)
        x = np.concatenate(list(audio.blocks(2.0)))
    i = round(start * SR)
    assert len(x) == pytest.approx(len(whole) - i, abs=2)
    # Past the resampler's (and a lossy decoder's) run-in of 0.1 s, the same samples: exact for
    # lossless files; within 2 % RMS for lossy ones (AAC's priming near the start differs).
    n = min(len(x), len(whole) - i)
    a, b = x[2205:n], whole[i + 2205 : i + n]
    if kind in ("wav", "flac"):
        np.testing.assert_allclose(a, b, atol=1e-5)
    else:
        assert np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2)) < 0.02


def test_starting_past_the_end_gives_nothing(files: dict[str, Path]) -> None:
    with open_audio(files["wav"], SR, start_seconds=100.0) as audio:
        assert sum(len(b) for b in audio.blocks()) == 0
