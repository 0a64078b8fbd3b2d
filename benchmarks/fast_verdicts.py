"""Does the fast path keep the shipped model's verdicts? Measured, not assumed.

    python -m benchmarks.fast_verdicts [--shared ../shared] [--reference FILE.json]
        [--precision auto] [--full]

The reference is the plain network's full analysis in float32 (every 3 s segment). The
candidate is the engine as `classify` runs it by default (auto precision, the low-rank front
end; sampled verdicts for long files), or with --full / --precision, those. Corpora: Debian's
asc-music and drascula-music songs, real-music-dev's 450 previews, and GTZAN valid (its
accuracy both ways).
A verdict is the genre, or "none of its genres". `--reference` keeps the float32 results
between runs (they take minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import machine, plain_engine
from benchmarks.library_speed import library


def corpora(shared: Path) -> dict[str, list[tuple[Path, str]]]:
    """name -> [(file, expected genre or '')]."""
    out: dict[str, list[tuple[Path, str]]] = {"debian": [(p, "") for p in library(None)]}
    rm = shared / "real-music-dev"
    if rm.is_dir():
        import csv

        with open(rm / "manifest.csv", newline="") as f:
            out["real-music-dev"] = [(rm / r["file"], "") for r in csv.DictReader(f)]
    gz = shared / "gtzan-real"
    if gz.is_dir():
        manifest = json.loads((gz / "manifest.json").read_text())
        out["gtzan-valid"] = [(gz / "genres" / it["genre"] / f"{it['track']}.ogg", it["genre"])
                              for it in manifest.get("valid", [])]  # fmt: skip
    return out


def verdicts(engine: object, paths: list[Path]) -> dict[str, str]:
    from mgr_desktop.inference.results import TrackResult

    out = {}
    for p, r in zip(paths, engine.classify_files(paths), strict=True):  # type: ignore[attr-defined]
        out[str(p)] = (
            ("outside" if r.outside else str(r.genre)) if isinstance(r, TrackResult) else "failed"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--reference", type=Path, help="float32 results kept here between runs")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--full", action="store_true", help="candidate analyses every segment")
    args = ap.parse_args()

    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.inference.track_audio import SAMPLE_SEGMENTS
    from mgr_desktop.paths import default_model_path

    sets = corpora(args.shared)
    ref: dict[str, str] = {}
    if args.reference and args.reference.exists():
        ref = json.loads(args.reference.read_text())
    exact = plain_engine(hop_seconds=3.0)
    fast = Engine.from_file(default_model_path(), "cpu", hop_seconds=3.0,
                            precision=args.precision,
                            sample_segments=0 if args.full else SAMPLE_SEGMENTS)  # fmt: skip
    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    print(f"candidate: precision {fast.precision}, "
          f"{'every segment' if args.full else 'sampled verdicts'}")  # fmt: skip
    for name, items in sets.items():
        paths = [p for p, _ in items]
        todo = [p for p in paths if str(p) not in ref]
        ref.update(verdicts(exact, todo))
        if args.reference:
            args.reference.write_text(json.dumps(ref))
        t = time.perf_counter()
        got = verdicts(fast, paths)
        took = time.perf_counter() - t
        same = [p for p in paths if got[str(p)] == ref[str(p)]]
        line = (f"{name}: {len(same)} of {len(paths)} verdicts the same "
                f"({len(same) / len(paths):.1%}); candidate {took:.1f} s")  # fmt: skip
        truth = {str(p): g for p, g in items if g}
        if truth:
            acc_ref = sum(ref[p] == g for p, g in truth.items()) / len(truth)
            acc_new = sum(got[p] == g for p, g in truth.items()) / len(truth)
            line += f"; accuracy float32 full {acc_ref:.3f}, candidate {acc_new:.3f}"
        print(line)
        for p in paths:
            if got[str(p)] != ref[str(p)]:
                print(f"    {Path(p).name}: {ref[str(p)]} -> {got[str(p)]}")


if __name__ == "__main__":
    main()
