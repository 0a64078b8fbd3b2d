"""Shared bits for the benchmark scripts: corpus generation, timing, machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def plain_engine(**kw: object) -> Any:
    """The shipped model as trained: float32 on the CPU, the plain network (neither the
    low-rank front end nor int8), every segment. The reference every fast path is compared
    with."""
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.models.checkpoint import load_model
    from mgr_desktop.paths import default_model_path

    loaded = load_model(default_model_path())
    engine = Engine(loaded, "cpu", precision="float32", **kw)  # type: ignore[arg-type]
    engine.model = loaded.model.eval()
    return engine


def synthetic_tracks(folder: Path, n: int, seconds: float = 30.0, sr: int = 22050) -> list[Path]:
    """Music-like noise+tones, 16-bit wav like GTZAN; reused between runs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    base = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (110, 220, 330, 440, 880))
    for i in range(n):
        p = folder / f"track{i:04d}.wav"
        if not p.exists():
            x = base * rng.uniform(0.5, 1.0) + 0.05 * rng.standard_normal(len(t))
            sf.write(p, x.astype(np.float32), sr, subtype="PCM_16")
        paths.append(p)
    return paths


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def median_ms(fn: Callable[[], object], n: int = 50, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)
