"""Embed every 3 s segment of a GTZAN copy with the frozen musicnn backbones, for model selection.

    python training/transfer_embeddings.py --data ../shared/gtzan-real --out /tmp/emb.npz

Writes, per track: its segment embeddings (MSD then MTT, each mean_pool | max_pool |
penultimate, as `models.transfer.LAYERS` orders them), its genre and its fault-filtered subset.
`training/select_transfer.py` reads the file. Uses the app's own decoder, front end and cache.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mgr_desktop.device import pick_device
from mgr_desktop.models.registry import build_model, get_architecture
from mgr_desktop.paths import cache_dir
from mgr_desktop.train.data import prepare
from mgr_desktop.train.embeddings import EmbeddingCache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hop", type=float, default=1.5, help="segment hop in seconds")
    args = ap.parse_args()
    arch = get_architecture("musicnn_msd_mtt")
    data = prepare(args.data, "fault-filtered", features_cfg=arch.features)[0]
    model = build_model(arch.name, len(data.labels), pretrained=True)
    store = EmbeddingCache(cache_dir() / "embeddings", model, arch.features, args.hop)
    tracks = [t for part in ("train", "valid") for t in getattr(data.split, part)]
    subset = {str(t.path): part for part in ("train", "valid") for t in getattr(data.split, part)}
    emb = store.build(
        [str(t.path) for t in tracks],
        data.features,
        pick_device("auto"),
        on_progress=lambda d, n, p: print(f"\r{d}/{n} {Path(p).name}   ", end="", flush=True),
    )
    print()
    np.savez_compressed(
        args.out,
        names=np.array([t.path.stem for t in tracks]),
        genres=np.array([t.label for t in tracks]),
        subsets=np.array([subset[str(t.path)] for t in tracks]),
        counts=np.array([len(emb[str(t.path)]) for t in tracks]),
        embeddings=np.concatenate([emb[str(t.path)] for t in tracks]).astype(np.float32),
    )
    print(f"wrote {args.out}: {len(tracks)} tracks")


if __name__ == "__main__":
    main()
