"""Classification throughput vs librosa computing only the log-mel, in the same run.

    python -m benchmarks.classify_speed [--tracks N] [--files DIR]   (from the repo root)

Prints x-real-time for decode+mel+model with `cnn` and `resnet18` on the CPU, the ratio of
that time to librosa's feature-only time (goal <= 0.5), per-window latency at batch 1, and
the cold start of `mgr-desktop classify` on one file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import best_of, machine, median_ms, synthetic_tracks


def librosa_features(paths: list[Path]) -> None:
    import librosa

    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
        librosa.power_to_db(s, ref=1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=40)
    ap.add_argument("--files", type=Path, help="folder of audio to use instead of synthetic")
    args = ap.parse_args()

    from mgr_desktop.audio.decode import decode_file
    from mgr_desktop.inference.engine import Engine
    from tests.helpers import make_model_file

    tmp = Path(tempfile.gettempdir()) / "mgr-bench"
    paths = (
        sorted(args.files.rglob("*.wav"))
        if args.files
        else synthetic_tracks(tmp / "tracks", args.tracks)
    )
    audio_seconds = sum(decode_file(p).duration for p in paths)
    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    print(f"corpus: {len(paths)} files, {audio_seconds:.0f} s of audio")

    librosa_features(paths[:2])  # warm librosa's caches and numba
    t_ref = best_of(lambda: librosa_features(paths))
    print(
        f"librosa load+melspectrogram+power_to_db: {t_ref:.2f} s "
        f"({audio_seconds / t_ref:.0f}x real time)"
    )

    for arch in ("cnn", "resnet18"):
        model = make_model_file(tmp / f"{arch}.safetensors", arch)
        engine = Engine.from_file(model, "cpu")
        list(engine.classify_files(paths[:2]))
        t = best_of(lambda e=engine: list(e.classify_files(paths)))
        print(
            f"{arch:9s} classify (decode+mel+model): {t:.2f} s = {audio_seconds / t:.0f}x real"
            f" time; ratio to librosa features: {t / t_ref:.2f} (goal <= 0.5)"
        )
        window = torch.randn(1, 1, 128, 130)
        with torch.inference_mode():
            ms_model = median_ms(lambda e=engine, w=window: e.model(w))
        wave = torch.randn(66150).numpy()
        ms_total = median_ms(lambda e=engine, w=wave: e.classify_segment(w))
        print(
            f"{arch:9s} one window at batch 1: model {ms_model:.1f} ms, mel+model {ms_total:.1f} ms"
        )

    one = paths[0]
    model = tmp / "cnn.safetensors"
    cold = best_of(
        lambda: subprocess.run(
            [
                sys.executable,
                "-m",
                "mgr_desktop",
                "classify",
                "--no-cache",
                "--model",
                str(model),
                str(one),
            ],
            check=True,
            capture_output=True,
        ),
        repeat=3,
    )
    print(f"cold start: mgr-desktop classify on one 30 s file: {cold:.2f} s")


if __name__ == "__main__":
    main()
