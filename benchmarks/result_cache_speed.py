"""The result cache: a folder classified the first time, then again unchanged with the same model.

    python -m benchmarks.result_cache_speed [--tracks N] [--arch cnn]   (from the repo root)

Generates N 30 s tracks (default 200; reused between runs), then times, with a fresh cache
folder, the whole `mgr-desktop classify --format json FOLDER` in this process (model loading
included, output to /dev/null) twice: the first run fills the cache, the second is answered
from it. It also times the classification alone (`cached_classify` on a loaded engine). The bar
in issue 11 is a cached reopen at <= 5 % of the first time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, synthetic_tracks


def whole_command(folder: Path, model: Path) -> float:
    from mgr_desktop.cli import main

    t0 = time.perf_counter()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        code = main(["classify", "--format", "json", "--device", "cpu", "--model", str(model),
                     str(folder)])  # fmt: skip
    elapsed = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"classify exited with {code}")
    return elapsed


def classification_only(paths: list[Path], model: Path) -> float:
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.inference.result_cache import ResultCache, cached_classify

    engine = Engine.from_file(model, "cpu")
    t0 = time.perf_counter()
    with ResultCache() as cache:
        n = sum(1 for _ in cached_classify(engine, [str(p) for p in paths], cache))
    assert n == len(paths)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=200, help="number of 30 s files (default 200)")
    ap.add_argument("--arch", default="cnn", help="model architecture (default cnn: small)")
    args = ap.parse_args()

    from tests.helpers import make_model_file

    tmp = Path(tempfile.gettempdir()) / "mgr-bench"
    folder = tmp / f"cache-tracks-{args.tracks}"
    paths = synthetic_tracks(folder, args.tracks)
    model = make_model_file(tmp / f"{args.arch}.safetensors", args.arch)
    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    print(f"corpus: {len(paths)} files x 30 s, model {args.arch}")

    with tempfile.TemporaryDirectory(prefix="mgr-cache-bench-") as home:
        os.environ["MGR_DESKTOP_HOME"] = home
        first = whole_command(folder, model)
        cached = whole_command(folder, model)
        size = (Path(home) / "cache" / "results.sqlite").stat().st_size
        print(f"classify, first run:  {first:7.2f} s")
        print(f"classify, cached run: {cached:7.2f} s  (model loading included)")
        print(f"ratio cached/first:   {cached / first:7.3f}  (bar <= 0.05)")
        print(f"cache file: {size / 1024:.0f} KiB ({size / len(paths) / 1024:.1f} KiB per file)")

    with tempfile.TemporaryDirectory(prefix="mgr-cache-bench-") as home:
        os.environ["MGR_DESKTOP_HOME"] = home
        first = classification_only(paths, model)
        cached = classification_only(paths, model)
        print(
            f"classification alone: first {first:.2f} s, cached {cached:.3f} s,"
            f" ratio {cached / first:.4f}"
        )


if __name__ == "__main__":
    main()
