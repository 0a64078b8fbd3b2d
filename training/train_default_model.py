"""Train, measure and write the model the app ships (`mgr_desktop/data/models/default.safetensors`).

    python training/real_music_embeddings.py --out /tmp/emb/orig.npz
    python training/real_music_embeddings.py --out /tmp/emb/aug.npz --versions augmented
    python training/train_default_model.py /tmp/emb/orig.npz /tmp/emb/aug.npz --out /tmp/run \\
        [--install]

Recipe (chosen with training/select_real_music.py; see training/README.md): the musicnn MSD
backbone, frozen; eleven answers, GTZAN's ten genres and "other" (none of them); both heads
linear, trained on the set-valued likelihood of the answers a track's tags allow (AllMusic's
pop/rock: pop, rock or metal) from GTZAN's 321 reachable tracks and real-music-dev's 450
previews (77 of them "other"), each also as a re-encoded, re-levelled, EQ'd copy.

Measured without touching a held-out test track: real-music-dev by 5-fold cross-validation
over artists (each fold's artists never trained on), GTZAN valid by heads trained on GTZAN
train and all of real-music-dev (the fault-filtered subsets share no artist). One temperature
for the verdict, fitted on both sets of held-out verdicts; the reported ECEs use it. The
segment head's temperature is fitted on out-of-fold segments the same way. Everything goes to
OUT/report.json and the model file's training summary; the README's model card quotes them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from real_music_heads import (
    GENRES,
    LABELS,
    OTHER,
    Corpus,
    Decision,
    artist_folds,
    fit_linear,
    fit_temperature,
    load,
    logits_of,
    real_music_report,
    softmax,
    track_stats,
)
from select_real_music import RECIPE, gtzan_report, gtzan_valid_logits, real_cv, weights

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.models.checkpoint import ModelInfo, save_model
from mgr_desktop.models.registry import build_model, get_architecture
from mgr_desktop.paths import default_model_path
from mgr_desktop.train.probe import pretrained_tags_of

ARCH = "musicnn_msd"


def segment_head(c: Corpus, use: np.ndarray, o: dict) -> tuple[np.ndarray, ...]:
    """The segment head (timeline, live readout): each segment labelled with its track's right
    answers; each track weighs as much as in the track head, whatever its length."""
    right = c.right()[c.track]
    is_real = np.array([c.rows[t]["source"] == "real" for t in c.track])
    idx = np.flatnonzero(use)
    w_track = weights(right[idx], o["alpha"], o["real_share"], is_real[idx])
    x = np.concatenate([c.embeddings[i] for i in idx])
    r = np.concatenate([np.repeat(right[i][None], len(c.embeddings[i]), 0) for i in idx])
    w = np.concatenate([np.full(len(c.embeddings[i]), wt / len(c.embeddings[i]))
                        for i, wt in zip(idx, w_track, strict=True)])  # fmt: skip
    return fit_linear(x, r, w, o["segment_l2"])


def segment_temperature(c: Corpus, o: dict, k: int = 5) -> float:
    """Fitted on real-music segments scored by segment heads that never saw their artist."""
    is_real_row = np.array([r["source"] == "real" for r in c.rows])
    fold_row = np.full(len(c.rows), -1)
    fold_row[is_real_row] = artist_folds(c.groups()[is_real_row], k)
    fold = fold_row[c.track]
    orig = c.version == "original"
    right = c.right()[c.track]
    zs, rs = [], []
    for f in range(k):
        head = segment_head(c, fold != f, o)
        for i in np.flatnonzero((fold == f) & orig):
            zs.append(logits_of(c.embeddings[i], head))
            rs.append(np.repeat(right[i][None], len(c.embeddings[i]), 0))
    return fit_temperature(np.concatenate(zs), np.concatenate(rs))


def measure(c: Corpus, x: np.ndarray, o: dict) -> dict:
    """Both held-out measurements with one temperature fitted on their pooled verdicts."""
    _, right, tax, z_real = real_cv(c, x, o)
    z_gtzan, truth = gtzan_valid_logits(c, x, o)
    right_gtzan = np.zeros_like(z_gtzan, bool)
    right_gtzan[np.arange(len(truth)), truth] = True
    t = fit_temperature(np.concatenate([z_real, z_gtzan]), np.concatenate([right, right_gtzan]))
    decision = Decision(o["outside_at"])
    return {
        "temperature": t,
        "real_music_dev_5fold_by_artist": real_music_report(
            softmax(z_real / t), right, decision, tax
        ),
        "gtzan_valid": gtzan_report(softmax(z_gtzan / t), truth, decision),
    }


def build(c: Corpus, x: np.ndarray, o: dict, seg_t: float) -> torch.nn.Module:
    """The shipped model: the pretrained backbone and both heads fitted on every track."""
    use = np.ones(len(c.track), bool)
    right = c.right()[c.track]
    is_real = np.array([c.rows[t]["source"] == "real" for t in c.track])
    track = fit_linear(x, right, weights(right, o["alpha"], o["real_share"], is_real), o["l2"])
    seg = segment_head(c, use, o)
    model = build_model(ARCH, len(LABELS), pretrained=True)
    with torch.no_grad():
        mean, scale, w, b = (torch.from_numpy(np.asarray(a, np.float32)) for a in seg)
        model.embed_mean.copy_(mean)
        model.embed_scale.copy_(scale)
        model.head[-1].weight.copy_(w / seg_t)  # the segment head is calibrated in its weights
        model.head[-1].bias.copy_(b / seg_t)
        mean, scale, w, b = (torch.from_numpy(np.asarray(a, np.float32)) for a in track)
        model.track_mean.copy_(mean)
        model.track_scale.copy_(scale)
        model.track_head.weight.copy_(w)
        model.track_head.bias.copy_(b)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("embeddings", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--install", action="store_true", help="write the app's default model")
    args = ap.parse_args()
    torch.set_num_threads(1)  # small problems: a second thread only contends
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c = load(*args.embeddings)
    o = RECIPE
    x = track_stats(c.embeddings)
    measured = measure(c, x, o)
    seg_t = segment_temperature(c, o)
    print(json.dumps(measured, indent=1))
    model = build(c, x, o, seg_t)  # the verdict's temperature goes in the metadata
    orig = c.version == "original"
    is_real = np.array([c.rows[t]["source"] == "real" for t in c.track])
    counts = {"gtzan": int((~is_real & orig).sum()), "real_music_dev": int((is_real & orig).sum()),
              "copies": int((~orig).sum())}  # fmt: skip
    real = measured["real_music_dev_5fold_by_artist"]
    valid = measured["gtzan_valid"]
    report = {"recipe": o, "tracks": counts, "segment_temperature": seg_t, **measured}
    write_text_atomic(out / "report.json", json.dumps(report, indent=1))
    info = ModelInfo(
        ARCH, LABELS, get_architecture(ARCH).features, name="default (musicnn MSD, real music)",
        temperature=measured["temperature"], tags=pretrained_tags_of(model), outside=OTHER,
        outside_at=o["outside_at"],
        training={"recipe": "training/train_default_model.py", "tracks": counts,
                  "genres": list(GENRES),
                  **{f"real_music_dev_{k}": v for k, v in real.items()},
                  **{f"gtzan_{k}": v for k, v in valid.items() if k != "per_genre"},
                  "test": "not measured (the held-out test tracks were not available)"},
    )  # fmt: skip
    save_model(out / "model.safetensors", model, info)
    if args.install:
        save_model(default_model_path(), model, info)
    print(f"wrote {out / 'model.safetensors'}" + (" and the app's default" if args.install else ""))


if __name__ == "__main__":
    main()
