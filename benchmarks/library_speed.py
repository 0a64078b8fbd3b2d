"""The shipped model at library scale, uncached: every figure is work done in this run.

    python -m benchmarks.library_speed [--files DIR] [--segments 20] [--precision auto]
        [--repeat 3]

Corpus: the real songs of Debian's asc-music and drascula-music packages (34 songs, 7 s to
7 min, mp3 and ogg), or a folder. Measured in one run, nothing from the result cache (the
engine is called directly; the whole command with --no-cache is timed too):
  * librosa `load` + `melspectrogram` + `power_to_db` alone: the reference (bar <= 0.8x, goal 0.3x);
  * the shipped model's full analysis (every 3 s segment of every song) in float32 through
    the plain network: the reference verdicts, and what every figure before int8 measured;
  * the full analysis at `--precision` (auto: the low-rank front end, see RESULTS.md);
  * its sampled verdict (`--segments` spread segments per song over 90 s, decoded by
    seeking), and for both, on how many songs it gives the reference's verdict (genre, or
    "none of its genres");
  * `mgr-desktop classify --no-cache` on the folder, start-up included, both ways.
Engine times are the best of `--repeat` runs; the whole command is timed in `--repeat` pairs
with a reference run just before each (this VM's speed drifts by up to 20 % over minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.classify_speed import librosa_features
from benchmarks.common import best_of, machine, plain_engine
from benchmarks.default_model_speed import AUDIO, debian_songs
from mgr_desktop.inference.track_audio import SAMPLE_SEGMENTS


def library(files: Path | None) -> list[Path]:
    if files:
        return sorted(p for p in files.rglob("*") if p.suffix in AUDIO)
    # drascula-music installs each song once under audio/ and links it per language
    return [p for p in debian_songs() if "/drascula/" not in str(p) or "/audio/" in str(p)]


def whole_command(paths: list[Path], full: bool) -> float:
    """`classify --no-cache` on the files, through a folder of links (one argument)."""
    with tempfile.TemporaryDirectory() as d:
        for i, p in enumerate(paths):
            os.symlink(p, Path(d) / f"{i:03d}-{p.name}")
        cmd = [sys.executable, "-m", "mgr_desktop", "classify", "--no-cache", "--format", "json",
               *(["--full"] if full else []), d]  # fmt: skip
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=Path)
    ap.add_argument("--segments", type=int, default=SAMPLE_SEGMENTS)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-command", action="store_true", help="skip the whole-command timing")
    args = ap.parse_args()

    from mgr_desktop.audio.decode import decode_file
    from mgr_desktop.inference.engine import Engine, FileFailure, TrackResult
    from mgr_desktop.paths import default_model_path

    paths = library(args.files)
    seconds = sum(decode_file(p).duration for p in paths)
    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    print(f"corpus: {len(paths)} songs, {seconds / 60:.1f} min of audio; nothing cached")
    librosa_features(paths[:2])
    t_ref = best_of(lambda: librosa_features(paths), repeat=args.repeat)
    print(f"librosa load+melspectrogram+power_to_db: {t_ref:.2f} s (reference)")
    engines = {
        "float32 plain network, every segment (the reference)": plain_engine(hop_seconds=3.0),
        f"{args.precision} precision, every segment (--full)": Engine.from_file(
            default_model_path(), "cpu", hop_seconds=3.0, precision=args.precision),
        f"{args.precision} precision, sampled (the default)": Engine.from_file(
            default_model_path(), "cpu", hop_seconds=3.0, precision=args.precision,
            sample_segments=args.segments),
    }  # fmt: skip
    results: dict[str, list[TrackResult | FileFailure]] = {}
    for name, engine in engines.items():
        list(engine.classify_files(paths[:2]))
        t = best_of(lambda e=engine, n=name: results.__setitem__(n, list(e.classify_files(paths))),
                    repeat=args.repeat)  # fmt: skip
        print(f"shipped model, {name} [{engine.precision}]: {t:.2f} s, "
              f"{t / t_ref:.2f}x librosa's features (bar <= 0.8, goal 0.3)")  # fmt: skip
    ref = results[next(iter(results))]
    for name, got in list(results.items())[1:]:
        same = sum(
            isinstance(x, TrackResult) and isinstance(y, TrackResult)
            and (x.genre, x.outside) == (y.genre, y.outside)
            for x, y in zip(ref, got, strict=True)
        )  # fmt: skip
        read = sum(len(r.segments) for r in got if isinstance(r, TrackResult))
        print(f"same verdict as the reference, {name}: {same} of {len(paths)} songs "
              f"({same / len(paths):.0%}); {read} segments read")  # fmt: skip
        for x, y in zip(ref, got, strict=True):
            if isinstance(x, TrackResult) and isinstance(y, TrackResult) and x.genre != y.genre:
                print(f"  differs: {Path(x.path).name}: {x.verdict_text()} | {y.verdict_text()}")
    if not args.no_command:
        # This VM's speed drifts by 20 % over minutes: each command run is paired with a
        # reference run just before it, and the ratios' median is the figure.
        for full_flag in (True, False):
            ratios = []
            for _ in range(args.repeat):
                ref_t = best_of(lambda: librosa_features(paths), repeat=1)
                t = whole_command(paths, full_flag)
                ratios.append(t / ref_t)
                print(f"  librosa {ref_t:.2f} s, command {t:.2f} s: {t / ref_t:.2f}x")
            what = "--full" if full_flag else "sampled (the default)"
            print(f"mgr-desktop classify --no-cache {what}, start-up included: median "
                  f"{statistics.median(ratios):.2f}x librosa's features "
                  f"({min(ratios):.2f}-{max(ratios):.2f}x in {len(ratios)} pairs)")  # fmt: skip


if __name__ == "__main__":
    main()
