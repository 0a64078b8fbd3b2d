"""Train, measure and write the model the app ships (`mgr_desktop/data/models/default.safetensors`).

    python training/train_default_model.py --data ../shared/gtzan-real --out /tmp/default-run

Recipe (chosen with training/select_transfer.py; see training/README.md): musicnn MSD backbone,
frozen; a segment head trained by the app's probe loop; a track head (logistic regression on
the mean and spread of the track's segment embeddings); 3 s segments without overlap.

Measured without touching any held-out test track:
  * kfold: 5 stratified folds over every track given; each fold trains on three parts, picks
    its epoch and temperature on the fourth, and is scored on the fifth (each track once);
  * valid: trained on the fault-filtered train subset alone (fixed epochs, no selection) and
    scored on the valid subset, whose artists train does not share.
The shipped model is then trained on every track, with the temperatures fitted on the k-fold
out-of-fold predictions. Everything measured goes into the model file's training summary and
into OUT/report.json, from which the README's model card is written.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.models.checkpoint import ModelInfo, save_model
from mgr_desktop.models.registry import get_architecture
from mgr_desktop.paths import default_model_path
from mgr_desktop.train.calibrate import expected_calibration_error, fit_temperature
from mgr_desktop.train.data import TrainData, prepare
from mgr_desktop.train.probe import (
    _part,
    fit_probe,
    pretrained_tags_of,
    scale_head,
    track_logits,
    window_logp,
)
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.splits import Split

RECIPE = TrainConfig(arch="musicnn_msd", epochs=30, batch_size=32, eval_hop_seconds=3.0, seed=0)
FULL = ("blues", "classical", "jazz", "pop")


def per_genre(pred: np.ndarray, y: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    return {
        lab: {"tracks": int((y == i).sum()), "accuracy": float((pred[y == i] == i).mean())}
        for i, lab in enumerate(labels)
        if (y == i).any()
    }


def summary(pred: np.ndarray, y: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict:
    full = np.isin(np.array(labels)[y], FULL)
    recalls = [float((pred[y == i] == i).mean()) for i in np.unique(y)]
    return {
        "tracks": len(y),
        "track_accuracy": float((pred == y).mean()),
        "four_full_genres_accuracy": float((pred[full] == y[full]).mean()),
        "balanced_accuracy": float(np.mean(recalls)),
        "ece_10_bins": expected_calibration_error(probs, y.tolist()),
        "per_genre": per_genre(pred, y, labels),
    }


def run_kfold(root: str, config: TrainConfig, emit) -> dict:
    folds = prepare(
        root, "kfold", config.seed, 5, features_cfg=get_architecture(config.arch).features
    )
    logits, segs, ys, seg_ys, best_epochs = [], [], [], [], []
    for i, data in enumerate(folds, 1):
        print(f"fold {i}/5", flush=True)
        status, model, _, _, best_epoch, _ = fit_probe(
            config, data, Path("/tmp"), emit, None, calibrate=False
        )
        assert status == "finished"
        device = next(model.parameters()).device
        test_e, test_y = _part(data, "test", model, device, config)
        logits.append(track_logits(model, test_e, device))  # uncalibrated, pooled below
        segs += [s for w in window_logp(model, test_e, device) for s in w]
        seg_ys += [y for e, y in zip(test_e, test_y, strict=True) for _ in range(len(e))]
        ys += test_y
        best_epochs.append(best_epoch)
    z = torch.cat(logits)
    y = np.array(ys)
    # Cross-fitted calibration: each fold's verdicts at a temperature fitted on the other
    # folds' out-of-fold verdicts, so the reported ECE is measured on tracks T never saw.
    fold_of = np.concatenate([np.full(len(zi), i) for i, zi in enumerate(logits)])
    probs = np.zeros(z.shape, np.float32)
    for i in range(len(logits)):
        rest = np.flatnonzero(fold_of != i)
        t_i = fit_temperature([z[j][None] for j in rest], [ys[j] for j in rest])
        probs[fold_of == i] = torch.softmax(z[fold_of == i] / t_i, -1).numpy()
    t = fit_temperature([r[None] for r in z], ys)  # the shipped model's: on every OOF verdict
    labels = folds[0].labels
    out = summary(probs.argmax(1), y, probs, labels)
    out["ece_uncalibrated"] = expected_calibration_error(torch.softmax(z, -1).numpy(), ys)
    out["temperature"] = t
    out["segment_temperature"] = fit_temperature([s[None] for s in segs], seg_ys)
    out["best_epochs"] = best_epochs
    return out


def run_valid(root: str, config: TrainConfig, emit) -> dict:
    data = prepare(root, "fault-filtered", features_cfg=get_architecture(config.arch).features)[0]
    blind = replace(data, split=Split(data.split.train, [], data.split.valid, name="ff-valid"))
    _status, model, *_ = fit_probe(config, blind, Path("/tmp"), emit, None)
    device = next(model.parameters()).device
    e, y = _part(blind, "test", model, device, config)
    probs = torch.softmax(track_logits(model, e, device), -1).numpy()
    return summary(probs.argmax(1), np.array(y), probs, data.labels)


def train_final(root: str, config: TrainConfig, kfold: dict, emit) -> tuple[TrainData, object]:
    data = prepare(
        root, "kfold", config.seed, 5, features_cfg=get_architecture(config.arch).features
    )[0]
    everything = [t for p in ("train", "valid", "test") for t in getattr(data.split, p)]
    data = replace(data, split=Split(everything, [], [], name="all"))
    _status, model, *_ = fit_probe(config, data, Path("/tmp"), emit, None)
    scale_head(model, kfold["segment_temperature"])
    return data, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--install", action="store_true", help="write the app's default model")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    emit = lambda e: None  # noqa: E731
    kfold = run_kfold(args.data, RECIPE, emit)
    print(json.dumps({k: v for k, v in kfold.items() if k != "per_genre"}, indent=1))
    config = replace(RECIPE, epochs=max(1, round(statistics.median(kfold["best_epochs"]))))
    valid = run_valid(args.data, config, emit)
    print(json.dumps({k: v for k, v in valid.items() if k != "per_genre"}, indent=1))
    data, model = train_final(args.data, config, kfold, emit)
    counts = {lab: sum(t.label == lab for t in data.split.train) for lab in data.labels}
    report = {"recipe": config.to_dict(), "tracks_per_genre": counts, "kfold": kfold,
              "valid": valid, "data": "gtzan-real: fault-filtered train+valid subsets"}  # fmt: skip
    write_text_atomic(out / "report.json", json.dumps(report, indent=1))
    info = ModelInfo(
        config.arch, tuple(data.labels), data.features_cfg, name="default (musicnn MSD)",
        temperature=kfold["temperature"], tags=pretrained_tags_of(model),
        training={"recipe": "training/train_default_model.py", "tracks_per_genre": counts,
                  "kfold_track_accuracy": kfold["track_accuracy"],
                  "kfold_four_full_genres_accuracy": kfold["four_full_genres_accuracy"],
                  "kfold_ece": kfold["ece_10_bins"],
                  "valid_track_accuracy": valid["track_accuracy"],
                  "valid_four_full_genres_accuracy": valid["four_full_genres_accuracy"],
                  "test": "not measured (the held-out test tracks were not available)"},
    )  # fmt: skip
    save_model(out / "model.safetensors", model, info)
    if args.install:
        save_model(default_model_path(), model, info)
    print(f"wrote {out / 'model.safetensors'}" + (" and the app's default" if args.install else ""))


if __name__ == "__main__":
    main()
