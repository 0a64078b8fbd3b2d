"""Segment embeddings, music-tag logits and levels of gtzan-real and real-music-dev, for the
shipped model's recipe (training/train_real_music_model.py).

    python training/real_music_embeddings.py --shared ../shared --out /tmp/real-emb.npz \
        [--versions original,augmented]

Each track goes through the app's own decoder, front end and frozen musicnn MSD backbone
(the shipped model's engine, 3 s segments back to back), so training sees exactly what
`classify` computes. With `augmented` every track is also embedded once more as a real library
might hold it: re-encoded by ffmpeg (mp3 or AAC at 96-192 kb/s) after a random gain (-9..+4 dB)
and a random EQ tilt (low and high shelves, -6..+6 dB), seeded by the track's name.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch

from mgr_desktop.audio.decode import open_audio
from mgr_desktop.dsp.track_stream import TrackFeatures
from mgr_desktop.inference.engine import Engine, TrackRun, segment_levels
from mgr_desktop.paths import default_model_path


def tracks(shared: Path) -> list[dict[str, str]]:
    """Every track with its source, labels (GTZAN genres; '|'-separated when several are
    right), taxonomy status and artist ('' where unknown)."""
    rows = []
    manifest = json.loads((shared / "gtzan-real/manifest.json").read_text())
    for subset, items in manifest.items():
        for it in items:
            genre = it["genre"]
            path = shared / "gtzan-real/genres" / genre / f"{it['track']}.ogg"
            rows.append(dict(path=str(path), source="gtzan", subset=subset, labels=genre,
                             taxonomy="yes", artist="", tags=genre))  # fmt: skip
    with open(shared / "real-music-dev/manifest.csv", newline="") as f:
        for r in csv.DictReader(f):
            rows.append(dict(path=str(shared / "real-music-dev" / r["file"]), source="real",
                             subset="", labels=r["gtzan_genres"], taxonomy=r["in_gtzan_taxonomy"],
                             artist=r["artist"], tags=r["genres"]))  # fmt: skip
    return rows


def augmented_copy(src: str, folder: str) -> str:
    rng = random.Random(zlib.crc32(Path(src).name.encode()))
    gain, low, high = rng.uniform(-9, 4), rng.uniform(-6, 6), rng.uniform(-6, 6)
    codec, ext = rng.choice([("libmp3lame", "mp3"), ("aac", "m4a")])
    rate = rng.choice([96, 128, 160, 192])
    out = str(Path(folder) / f"aug.{ext}")
    chain = f"volume={gain:.1f}dB,bass=g={low:.1f},treble=g={high:.1f},alimiter=limit=0.99"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", src, "-af", chain, "-c:a", codec,
         "-b:a", f"{rate}k", out],
        check=True,
    )  # fmt: skip
    return out


def embed(engine: Engine, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(segments, dim) embeddings, (segments, tags) tag logits and (segments,) dBFS levels."""
    cfg = engine.cfg
    features = TrackFeatures(engine.feature_columns, cfg)
    run = TrackRun(engine)
    with open_audio(path, cfg.sample_rate) as audio:
        for block in audio.blocks(10.0):
            run.push(features.push(block))
    run.push(features.finish())
    run.pending.extend(run.cutter.finish())
    run._run(final=True)
    levels = segment_levels(features.energy, run.cutter.starts, cfg)
    return torch.cat(run.embs).numpy(), torch.cat(run.tags).numpy(), levels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", required=True)
    ap.add_argument(
        "--versions", default="original", help="original, augmented or original,augmented"
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    engine = Engine.from_file(default_model_path(), "cpu", hop_seconds=3.0, precision="float32")
    rows = tracks(Path(args.shared))
    embs, tags, levels, counts, copies = [], [], [], [], []
    versions = tuple(args.versions.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        for i, row in enumerate(rows):
            for version in versions:
                path = row["path"] if version == "original" else augmented_copy(row["path"], tmp)
                e, t, lv = embed(engine, path)
                embs.append(e)
                tags.append(t)
                levels.append(lv)
                counts.append(len(e))
                copies.append(version)
            print(f"\r{i + 1}/{len(rows)}", end="", flush=True)
    print()
    index = np.repeat(np.arange(len(rows)), len(versions))
    np.savez_compressed(
        args.out,
        track=index,
        version=np.array(copies),
        counts=np.array(counts),
        embeddings=np.concatenate(embs).astype(np.float32),
        tag_logits=np.concatenate(tags).astype(np.float32),
        levels=np.concatenate(levels).astype(np.float32),
        rows=np.array(json.dumps(rows)),
    )
    print(f"wrote {args.out}: {len(rows)} tracks x {len(versions)}")


if __name__ == "__main__":
    main()
