"""Run folders, without Qt: where a run keeps its files, which runs exist and how they ended,
and what a finished run measured. The loop, k-fold, the CLI and the Train tab all use it.

A run folder holds
  model.safetensors   the model, best on validation (for k-fold: the best fold's, copied)
  last.safetensors    the resumable training state (for k-fold: in each fold-i/)
  metrics.json        the curves ("history"), the test report with its confusion matrix
                      ("test"), and "finished" once the run is over; for k-fold, "kfold": each
                      score's mean, std and per-fold values
  run.json            the Train tab's job (data folder, split, settings), so Resume knows it
  fold-1/, fold-2/ …  k-fold: one run folder per fold, laid out as above
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mgr_desktop.atomic import write_text_atomic

if TYPE_CHECKING:
    from mgr_desktop.train.data import TrainData
    from mgr_desktop.train.recipe import TrainConfig

MODEL_FILE = "model.safetensors"
STATE_FILE = "last.safetensors"
METRICS_FILE = "metrics.json"


@dataclass
class RunResult:
    status: str  # "finished" or "stopped"
    out_dir: Path
    metrics: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.out_dir / MODEL_FILE


RUN_FILE = "run.json"
FINISHED, STOPPED = "finished", "stopped"


def fold_dir(out: str | Path, fold: int) -> Path:
    """Where k-fold puts fold `fold` (1-based)."""
    return Path(out) / f"fold-{fold}"


def run_name(arch: str, split: str, when: datetime | None = None) -> str:
    """Run folders name their settings: 2026-11-23_214500_cnn_fault-filtered."""
    return f"{(when or datetime.now()):%Y-%m-%d_%H%M%S}_{arch}_{split}"


def metrics_doc(
    history: list[dict[str, Any]],
    data: TrainData,
    test: dict[str, Any] | None,
    epochs_completed: int,
    finished: bool = False,
) -> dict[str, Any]:
    """A run's metrics.json: rewritten after every epoch, and `finished` once the run is over
    (tested or not)."""
    return {"history": history, "epochs_completed": epochs_completed,
            "split": data.split.to_json(), "split_name": data.split.name,
            "labels": data.labels, "test": test, "finished": finished}  # fmt: skip


def run_summary(config: TrainConfig, data: TrainData) -> dict[str, Any]:
    """What a model file records of the run that trained it."""
    return {
        "data": data.root, "split": data.split.name,
        "tracks": {p: len(getattr(data.split, p)) for p in ("train", "valid", "test")},
        "arch": config.arch, "epochs": config.epochs, "batch_size": config.batch_size,
        "max_lr": config.peak_lr, "weight_decay": config.weight_decay,
        "clip_value": config.clip_value, "clip_norm": config.clip_norm, "seed": config.seed,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip


def write_metrics(out: str | Path, doc: dict[str, Any]) -> None:
    write_text_atomic(Path(out) / METRICS_FILE, json.dumps(doc, indent=1))


def read_metrics(run: str | Path) -> dict[str, Any] | None:
    """The run's metrics.json, or None when it is missing or unreadable."""
    try:
        doc = json.loads((Path(run) / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def is_finished(doc: dict[str, Any] | None) -> bool:
    """A finished run's metrics: marked so, a k-fold summary, or (runs written before the
    mark) a test report."""
    if not doc:
        return False
    return bool(doc.get("finished")) or "kfold" in doc or doc.get("test") is not None


@dataclass
class Run:
    """A run folder read back: how it ended and what it measured."""

    path: Path
    status: str  # FINISHED or STOPPED (anything not finished: stopped, killed, failed)
    history: list[dict[str, Any]] = field(default_factory=list)  # the curves, one row per epoch
    test: dict[str, Any] | None = None  # the test report (confusion matrix, per-genre scores)
    kfold: dict[str, dict[str, Any]] | None = None  # score -> mean, std, per-fold values
    folds: int = 0
    model_from: str | None = None  # k-fold: the fold folder the model was copied from

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def has_model(self) -> bool:
        return self.model_path.exists()

    @property
    def resumable(self) -> bool:
        """A single run with a saved state that has not finished (k-fold does not resume)."""
        return not self.finished and self.kfold is None and (self.path / STATE_FILE).exists()


def read_run(path: str | Path) -> Run:
    """Read a run folder back. For k-fold, the curves and the test report are those of the
    fold whose model was kept; `kfold` holds the mean ± std over the folds."""
    path = Path(path)
    doc = read_metrics(path) or {}
    run = Run(path, FINISHED if is_finished(doc) else STOPPED)
    if "kfold" in doc:
        run.kfold, run.folds, run.model_from = (
            doc["kfold"],
            doc.get("folds", 0),
            doc.get("model_from"),
        )
        doc = (read_metrics(path / run.model_from) or {}) if run.model_from else {}
    run.history = list(doc.get("history") or [])
    run.test = doc.get("test")
    return run


def list_runs(folder: str | Path) -> list[Path]:
    """The Train tab's run folders (those with a run.json), newest first."""
    base = Path(folder)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / RUN_FILE).exists()), reverse=True)


def install_model(run_dir: str | Path) -> Path:
    """Copy a finished run's model into the user's models folder, named after the run."""
    from mgr_desktop.atomic import write_bytes_atomic
    from mgr_desktop.paths import models_dir

    src = Path(run_dir) / MODEL_FILE
    dst = models_dir() / f"{Path(run_dir).name}.safetensors"
    write_bytes_atomic(dst, src.read_bytes())
    return dst
