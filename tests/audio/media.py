"""Real media files made in the tests with ffmpeg and lame, and ffprobe as the judge of length.

The app itself needs neither tool (PyAV bundles FFmpeg's libraries); the tests use the real
encoders so that the files are the ones users have. `scripts/setup.sh test` installs them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
LAME = shutil.which("lame")

needs_ffmpeg = pytest.mark.skipif(
    not (FFMPEG and FFPROBE),
    reason="ffmpeg/ffprobe not installed (scripts/setup.sh test installs the ffmpeg package)",
)
needs_lame = pytest.mark.skipif(
    not LAME, reason="lame not installed (scripts/setup.sh test installs the lame package)"
)


def ffmpeg(*args: str | Path) -> None:
    assert FFMPEG
    subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-y", *map(str, args)], check=True)


def lame(*args: str | Path) -> None:
    assert LAME
    subprocess.run([LAME, "--silent", *map(str, args)], check=True)


def _probe(path: Path, *args: str) -> str:
    assert FFPROBE
    return subprocess.run(
        [FFPROBE, "-v", "error", *args, "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def ffprobe_duration(path: Path) -> float:
    """The container's duration as ffprobe reports it."""
    return float(_probe(path, "-show_entries", "format=duration").strip())


def ffprobe_packet_duration(path: Path) -> float:
    """The sum of the audio packets' durations: ffprobe's length when the header has none
    (for a VBR mp3 without a Xing header, format=duration is a guess from the bitrate)."""
    out = _probe(path, "-select_streams", "a:0", "-show_entries", "packet=duration_time")
    return sum(float(v) for v in out.split() if v.strip() not in ("", "N/A"))


def music_like(seconds: float, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """Stereo float32: a 440 Hz tone over a changing chord and a little noise, so that lossy
    codecs have something to work on and the tone's peak stays the loudest."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    chord = sum(0.08 * np.sin(2 * np.pi * f * t * (1 + 0.01 * np.sin(t))) for f in (220, 277, 330))
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + chord + 0.02 * rng.standard_normal(len(t))
    right = 0.35 * np.sin(2 * np.pi * 440 * t + 0.3) + chord + 0.02 * rng.standard_normal(len(t))
    return np.stack([left, right], axis=1).astype(np.float32)


def write_source(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A 16-bit stereo WAV to feed the encoders."""
    sf.write(path, music_like(seconds, sr), sr, subtype="PCM_16")
    return path


def peak_hz(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / sr)[spectrum.argmax()])
