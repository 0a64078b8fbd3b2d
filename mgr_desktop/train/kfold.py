"""k-fold training: one run per fold, scores as mean ± std. Shared by the CLI and the tab."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

from mgr_desktop.train.data import TrainData
from mgr_desktop.train.events import EventSink, FoldEnded, FoldStarted, KFoldFinished, ignore
from mgr_desktop.train.loop import fit
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.runs import FINISHED, MODEL_FILE, fold_dir, write_metrics

SCORES = ("track_accuracy", "segment_accuracy", "macro_f1")


def fit_folds(
    config: TrainConfig,
    folds: list[TrainData],
    out: str | Path,
    on_event: EventSink | None = None,
    stop: threading.Event | None = None,
) -> tuple[str, dict[str, Any]]:
    """Train fold i into out/fold-i. When all finish, write out/metrics.json with each score's
    mean, std and per-fold values, and copy the fold model that did best on *validation* to
    out/model.safetensors. Returns (status, summary)."""
    emit = on_event or ignore
    out = Path(out)
    results = []
    for i, data in enumerate(folds, 1):
        emit(FoldStarted(i, len(folds)))
        result = fit(config, data, fold_dir(out, i), on_event, stop)
        if result.status != FINISHED:
            return result.status, {}
        results.append(result)
        emit(FoldEnded(i, len(folds), result.metrics["test"]))
    tests = [r.metrics["test"] for r in results]
    summary = {k: {"mean": float(np.mean([t[k] for t in tests])),
                   "std": float(np.std([t[k] for t in tests])),
                   "folds": [t[k] for t in tests]} for k in SCORES}  # fmt: skip
    best = max(results, key=lambda r: max(h["valid_track_accuracy"] for h in r.metrics["history"]))
    shutil.copyfile(best.model_path, out / MODEL_FILE)
    write_metrics(out, {"kfold": summary, "folds": len(folds), "model_from": best.out_dir.name})
    emit(KFoldFinished(summary, len(folds), best.out_dir.name))
    return FINISHED, summary
