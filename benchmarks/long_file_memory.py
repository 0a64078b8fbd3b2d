"""Peak memory of `classify` on a two-hour mp3, per Python environment.

    python -m benchmarks.long_file_memory [--python OTHER_VENV/bin/python ...] [--minutes 120]

Makes (once) a 44.1 kHz stereo 128 kbps mp3 of tones and pink noise with ffmpeg, then runs
`mgr-desktop classify --no-cache --format json` on it in a fresh process for the shipped model
and the compact CNN, and reports each process's peak RSS (its own, from wait4) beside that of
`import torch` alone in the same environment, and whether the timeline covers the whole file.
Bar (issue 11): <= 500 MB, torch included. Compare environments: PyPI's Linux torch is the
CUDA build, whose libraries cost several hundred MB of RSS even on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_mp3(path: Path, minutes: float) -> Path:
    if not path.exists():
        tmp = path.with_suffix(".part.mp3")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y",
             "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=44100:duration={minutes * 60}",
             "-f", "lavfi", "-i", f"anoisesrc=color=pink:sample_rate=44100:amplitude=0.1:"
                                  f"duration={minutes * 60}",
             "-filter_complex", "[0][1]amix=inputs=2,aformat=channel_layouts=stereo",
             "-ar", "44100", "-b:a", "128k", str(tmp)],
            check=True,
        )  # fmt: skip
        tmp.replace(path)
    return path


def peak_rss_mb(cmd: list[str]) -> tuple[float, float, bytes]:
    """(peak RSS in MB (10^6 bytes) of that process alone, wall seconds, its stdout). A
    child's peak counts the parent's pages at fork time, so this script never imports torch."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        data = out.read()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} exited {proc.returncode}")
    return usage.ru_maxrss * 1024 / 1e6, wall, data  # ru_maxrss is in KiB on Linux; MB = 10^6 B


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", action="append", default=[], help="another environment")
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--skip-default", action="store_true", help="compact CNN only (fast)")
    args = ap.parse_args()

    tmp = Path(tempfile.gettempdir()) / "mgr-bench"
    tmp.mkdir(exist_ok=True)
    mp3 = make_mp3(tmp / f"long-{args.minutes:g}min.mp3", args.minutes)
    cnn = tmp / "cnn.safetensors"
    subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from tests.helpers import "
         f"make_model_file; make_model_file(Path({str(cnn)!r}), 'cnn')"],
        check=True, cwd=ROOT,
    )  # fmt: skip
    print(f"# {time.strftime('%Y-%m-%d')} - {mp3.name}: {mp3.stat().st_size / 1e6:.0f} MB")
    models = {"compact CNN": ["--model", str(cnn)]}
    if not args.skip_default:
        models["shipped model"] = []
    assert "torch" not in sys.modules
    for py in [sys.executable, *args.python]:
        version = subprocess.run(
            [py, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True
        ).stdout.strip()
        base, _, _ = peak_rss_mb([py, "-c", "import torch"])
        print(f"\n{py} (torch {version}): `import torch` alone {base:.0f} MB")
        for name, extra in models.items():
            cmd = [py, "-m", "mgr_desktop", "classify", "--no-cache", "--format", "json",
                   *extra, str(mp3)]  # fmt: skip
            rss, wall, out = peak_rss_mb(cmd)
            doc = json.loads(out)
            covered = doc["segments"][-1]["end"] if doc.get("segments") else 0.0
            print(
                f"  {name}: peak RSS {rss:.0f} MB (bar <= 500), {wall:.0f} s; duration "
                f"{doc['duration']:.1f} s, {len(doc['segments'])} segments up to {covered:.1f} s"
            )


if __name__ == "__main__":
    main()
