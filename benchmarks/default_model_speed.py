"""The shipped model's speed beside its references, all measured in one run.

    python -m benchmarks.default_model_speed [--files DIR] [--tf-python PY] [--device cpu]

On 30 s GTZAN-like clips (the folder's audio files, or generated ones): the whole `classify`
path (decode, features, model; batch hop 3 s) for the shipped model and for the compact CNN,
against librosa's `load` + `melspectrogram` + `power_to_db` alone (bar: <= 0.8x) and, when a
TensorFlow environment with the musicnn wheel is given, against the musicnn package's own
network with its session reused (goal: 4x faster). Each model runs at the precision the app
picks (`auto`: bfloat16 on a CPU that has it in hardware), and the compact CNN also in
float32. Also the latency of one 3 s segment at batch 1 (the model, and features + model as
the live readout runs it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.classify_speed import librosa_features
from benchmarks.common import best_of, machine, median_ms, synthetic_tracks

AUDIO = (".wav", ".ogg", ".mp3", ".flac", ".au")


def debian_songs() -> list[Path]:
    """The real songs Debian's game-music packages install (44.1 kHz stereo mp3 and ogg)."""
    out = subprocess.run(
        ["dpkg", "-L", "asc-music", "drascula-music"], capture_output=True, text=True
    ).stdout.split()
    files = {Path(p).resolve() for p in out if p.endswith((".mp3", ".ogg"))}
    return sorted(p for p in files if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=Path, help="folder of audio (default: 20 generated clips)")
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--tf-python", help="python of an environment with TF and musicnn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="another model to measure beside the default and the compact CNN",
    )
    ap.add_argument(
        "--only-cnn", action="store_true", help="the compact CNN only (skip the shipped model)"
    )
    ap.add_argument(
        "--debian-music",
        action="store_true",
        help="use the songs of Debian's asc-music and drascula-music packages",
    )
    args = ap.parse_args()

    from mgr_desktop.audio.decode import decode_file
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.paths import default_model_path
    from tests.helpers import make_model_file

    tmp = Path(tempfile.gettempdir()) / "mgr-bench"
    if args.debian_music:
        paths = debian_songs()[: args.tracks]
    elif args.files:
        paths = sorted(p for p in args.files.rglob("*") if p.suffix in AUDIO)[: args.tracks]
    else:
        paths = synthetic_tracks(tmp / "tracks", args.tracks)
    seconds = sum(decode_file(p).duration for p in paths)
    print(f"# {time.strftime('%Y-%m-%d')} - {machine()} - device {args.device}")
    print(f"corpus: {len(paths)} files, {seconds:.0f} s of audio")
    librosa_features(paths[:2])
    # Best of 5: a folder of ten clips takes ~0.1 s, where one scheduling hiccup shows.
    t_ref = best_of(lambda: librosa_features(paths), repeat=5)
    print(f"librosa load+melspectrogram+power_to_db: {t_ref / len(paths) * 1000:.0f} ms/file")
    results: dict[str, float] = {"librosa": t_ref / len(paths)}

    bar = 0.6 if args.debian_music else 0.8
    cnn = make_model_file(tmp / "cnn.safetensors", "cnn")
    models: dict[str, tuple[str, str]] = {}  # name: (model file, precision)
    if not args.only_cnn:
        models["default"] = (str(default_model_path()), "auto")
    models["cnn"] = (str(cnn), "auto")
    models["cnn-fp32"] = (str(cnn), "float32")
    models.update({n: (f, "auto") for n, f in (m.split("=", 1) for m in args.model)})
    for name, (path, precision) in models.items():
        engine = Engine.from_file(path, args.device, hop_seconds=3.0, precision=precision)
        list(engine.classify_files(paths[:2]))
        repeat = 3 if engine.info.arch.startswith("musicnn") else 5
        t = best_of(lambda e=engine: list(e.classify_files(paths)), repeat=repeat)
        results[name] = t / len(paths)
        print(
            f"{name:8s} ({engine.info.arch}, {engine.precision}) classify: "
            f"{t / len(paths) * 1000:.0f} ms/file, {seconds / t:.0f}x real time; "
            f"ratio to librosa features: {t / t_ref:.2f} (bar <= {bar})"
        )
        cfg = engine.cfg
        x = torch.randn(1, 1, cfg.n_mels, cfg.segment_frames, device=engine.device)
        with torch.inference_mode():
            model_ms = median_ms(lambda e=engine, x=x: e.segment_outputs(x[:, 0]), n=20)
        wave = torch.randn(cfg.segment_samples).numpy() * 0.1
        total_ms = median_ms(lambda e=engine, w=wave: e.classify_segment(w), n=20)
        print(
            f"{name:8s} one 3 s segment at batch 1: model {model_ms:.1f} ms, "
            f"features + model (the live readout) {total_ms:.1f} ms"
        )

    if args.tf_python:
        out = subprocess.run(
            [args.tf_python, str(Path(__file__).with_name("musicnn_tf_reference.py")),
             *map(str, paths)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        tf = json.loads(out.stdout.strip().splitlines()[-1])
        reused = tf["session_reused_per_file_s"]
        print(
            f"musicnn package (TF), session reused: {reused * 1000:.0f} ms/file; through "
            f"extractor(): {tf['extractor_per_file_s'] * 1000:.0f} ms/file"
        )
        for name in models:
            print(f"{name:8s} is {reused / results[name]:.1f}x faster than musicnn's TF network")


if __name__ == "__main__":
    main()
