"""`mgr-desktop train` on odd datasets, through the real command: genre folders whose names
the model loader would refuse, genres in m4a, and genre folders with no audio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from mgr_desktop.models.checkpoint import load_model
from tests.helpers import tone, write


def train(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "train", "--data", str(data), "--out", str(out),
         "--cache", str(out.parent / "cache"), "--arch", "cnn", "--device", "cpu",
         "--epochs", "1", "--batch-size", "4", *extra],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def m4a(path: Path, seconds: float, freq: float, rate: int = 44100) -> Path:
    """AAC in MP4, encoded with PyAV (libsndfile cannot read it; the app's decoder can)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    x = tone(seconds, rate, freq)[None, :]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def test_genre_names_a_model_could_not_hold_are_refused_before_training(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    for j, genre in enumerate(("rock", "jazz\nfusion", "pop")):
        for i in range(6):
            write(data / genre / f"{i}.wav", tone(2.0, 8000, 200.0 + 50 * i + 15 * j), 8000)
    proc = train(data, tmp_path / "run")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.splitlines()[-1] == (
        f"mgr-desktop: error: {data}/jazz\\nfusion: this genre folder's name cannot be a genre "
        "label (must be printable text without control characters); rename the folder"
    )
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_m4a_genres_train_and_empty_genre_folders_are_listed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for i in range(6):
        m4a(data / "rock" / f"{i}.m4a", 3.0, float(rng.uniform(150, 300)))
        write(data / "jazz" / f"{i}.wav", tone(3.0, 22050, float(rng.uniform(600, 900))), 22050)
    (data / "folk").mkdir()
    (data / "folk" / "notes.txt").write_text("to do")
    proc = train(data, tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 tracks" in proc.stderr.split("rock:")[1].splitlines()[0]
    assert f"empty, skipped: {data / 'folk'} (no audio files in this genre folder)" in proc.stderr
    assert load_model(tmp_path / "run" / "model.safetensors").info.labels == ("jazz", "rock")
