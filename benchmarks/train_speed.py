"""Feature-cache build vs a plain librosa loop, and training throughput.

    python -m benchmarks.train_speed [--tracks 1000] [--device cpu|cuda]

The cache build runs on GTZAN-sized synthetic data (1000 x 30 s by default) against
`librosa.load` + `melspectrogram` on the same files in the same run (goal: >= 3x faster).
Training throughput is segments per second for every registered architecture (forward,
backward, step; the musicnn ones fine-tuned end to end), and for the transfer architectures
also the frozen-backbone embedding rate, which bounds a probe's first pass (later passes read
the embedding cache and train only the head).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import machine, synthetic_tracks


def librosa_loop(paths: list[Path]) -> None:
    import librosa

    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        librosa.power_to_db(
            librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128),
            ref=1.0,
        )


def _input(arch: str, batch: int, device: torch.device) -> torch.Tensor:
    from mgr_desktop.models.registry import get_architecture

    cfg = get_architecture(arch).features
    return torch.randn(batch, 1, cfg.n_mels, cfg.segment_frames, device=device)


def embed_throughput(arch: str, device: torch.device, batch: int = 64, steps: int = 5) -> float:
    from mgr_desktop.models.registry import build_model

    model = build_model(arch, 10).to(device).eval()
    x = _input(arch, batch, device)
    with torch.inference_mode():
        model.raw_embedding(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            model.raw_embedding(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def train_throughput(arch: str, device: torch.device, batch: int = 32, steps: int = 20) -> float:
    from mgr_desktop.models.registry import build_model

    model = build_model(arch, 10).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-4)
    x = _input(arch, batch, device)
    y = torch.randint(0, 10, (batch,), device=device)
    amp = torch.bfloat16 if device.type == "cuda" else None

    def step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-cache", action="store_true")
    args = ap.parse_args()

    from mgr_desktop.config import FeatureConfig
    from mgr_desktop.train.cache import FeatureCache

    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    if not args.skip_cache:
        tmp = Path(tempfile.gettempdir()) / "mgr-bench"
        t0 = time.perf_counter()
        paths = synthetic_tracks(tmp / "gtzan-size", args.tracks)
        print(
            f"corpus: {len(paths)} x 30 s synthetic wav (ready in {time.perf_counter() - t0:.0f} s)"
        )
        t0 = time.perf_counter()
        librosa_loop(paths)
        t_ref = time.perf_counter() - t0
        cache_dir = tmp / "cache-bench"
        shutil.rmtree(cache_dir, ignore_errors=True)
        t0 = time.perf_counter()
        FeatureCache(cache_dir, FeatureConfig()).build(paths)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        FeatureCache(cache_dir, FeatureConfig()).build(paths)
        t_hit = time.perf_counter() - t0
        print(f"librosa load+melspectrogram loop: {t_ref:.1f} s")
        print(
            f"feature cache build (cold):       {t_ours:.1f} s  -> {t_ref / t_ours:.2f}x faster "
            "(goal >= 3x)"
        )
        print(f"feature cache reuse (warm):       {t_hit:.1f} s")
    from mgr_desktop.models.registry import ARCHITECTURES

    device = torch.device(args.device)
    steps = 20 if device.type == "cuda" else 5
    for arch, spec in ARCHITECTURES.items():
        print(
            f"training throughput {arch:16s} on {device.type}: "
            f"{train_throughput(arch, device, steps=steps):.0f} segments/s (batch 32)",
            flush=True,
        )
        if spec.transfer:
            print(
                f"frozen-backbone embedding {arch:16s} on {device.type}: "
                f"{embed_throughput(arch, device):.0f} segments/s (batch 64)",
                flush=True,
            )


if __name__ == "__main__":
    main()
