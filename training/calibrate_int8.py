"""Ranges for musicnn's int8 front end (mgr_desktop/models/musicnn_int8.py), measured once on
real music and shipped as data/pretrained/<backbone>.int8.json.

    python training/calibrate_int8.py --shared ../shared [--per-track 4] [--tracks 400]

Calibration music: tracks of gtzan-real (train subset only) and real-music-dev, chosen by a
fixed seed, `--per-track` spread 3 s segments each through the app's own decoder and front
end, plus synthetic extremes a library holds too (digital silence, a full-scale square wave,
white noise at 0 dBFS) so that loud or empty files stay inside the ranges. The ranges are a
property of the backbone's weights and the features, not of any genre head.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from real_music_embeddings import tracks

from mgr_desktop.audio.decode import decode_file
from mgr_desktop.config import MUSICNN_FEATURES, FeatureConfig
from mgr_desktop.dsp.mel import LogMel, normalise, pad_to_window
from mgr_desktop.models import musicnn_int8
from mgr_desktop.models.musicnn import PRETRAINED, load_pretrained


def calibration_tracks(shared: Path, count: int) -> list[Path]:
    rows = tracks(shared)
    gtzan = [Path(r["path"]) for r in rows if r["source"] == "gtzan" and r["subset"] == "train"]
    real = sorted(Path(r["path"]) for r in rows if r["source"] == "real")
    pool = [p for p in gtzan + real if p.exists()]
    random.Random(0).shuffle(pool)
    return pool[:count]


def windows(wave: np.ndarray, mel: LogMel, cfg: FeatureConfig, per_track: int) -> torch.Tensor:
    with torch.inference_mode():
        db = mel(torch.from_numpy(np.ascontiguousarray(pad_to_window(wave, cfg))))
    width = cfg.segment_frames
    room = max(0, db.shape[-1] - width)
    starts = sorted({round(room * (i + 0.5) / per_track) for i in range(per_track)})
    return normalise(torch.stack([db[:, s : s + width] for s in starts]), cfg).unsqueeze(1)


def extremes(cfg: FeatureConfig) -> list[np.ndarray]:
    n = cfg.segment_samples + cfg.n_fft
    t = np.arange(n) / cfg.sample_rate
    rng = np.random.default_rng(0)
    return [
        np.zeros(n, np.float32),
        np.sign(np.sin(2 * np.pi * 110 * t)).astype(np.float32),
        rng.uniform(-1, 1, n).astype(np.float32),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--tracks", type=int, default=400)
    ap.add_argument("--per-track", type=int, default=4)
    args = ap.parse_args()
    cfg = MUSICNN_FEATURES
    mel = LogMel(cfg)
    batches = [windows(w, mel, cfg, 1) for w in extremes(cfg)]
    for p in calibration_tracks(args.shared, args.tracks):
        batches.append(windows(decode_file(p, cfg.sample_rate).samples, mel, cfg, args.per_track))
    print(f"{len(batches) - 3} tracks, {sum(len(b) for b in batches)} segments")
    for name in PRETRAINED:
        ranges = musicnn_int8.measure_ranges(load_pretrained(name), batches)
        ranges["calibration"] = (
            f"training/calibrate_int8.py: {len(batches) - 3} tracks of gtzan-real train and "
            f"real-music-dev, {args.per_track} segments each, plus silence, a full-scale "
            "square wave and white noise"
        )
        out = musicnn_int8.calibration_path(name)
        out.write_text(json.dumps(ranges, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
