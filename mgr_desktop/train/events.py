"""What training reports, as types: the loop, the probe, data preparation and k-fold emit these;
the CLI's printer and the Train tab match on the type.

Each event is a small frozen dataclass of plain values (numbers, strings, JSON-like dicts), so
it pickles and crosses the queue from the Train tab's spawned training process unchanged.
A renamed field fails at type-check time in every consumer, not at run time in one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, get_args

# -- preparing the data (train.data.prepare, the probe's embedding cache) --------------------


@dataclass(frozen=True)
class DatasetFound:
    """The discovery report of the data folder."""

    summary: str  # the report as text, for people
    report: dict[str, Any]  # DatasetReport.to_json()


@dataclass(frozen=True)
class CacheStarted:
    total: int  # tracks to read (features or embeddings)
    # Which pass: "features" or "embeddings"; "" leaves it to order (features come first),
    # which is how the Train tab tells the steps apart for senders that do not say.
    what: str = ""


@dataclass(frozen=True)
class CacheProgress:
    done: int
    total: int
    path: str


@dataclass(frozen=True)
class CacheDone:
    total: int
    hits: int  # read from the cache, not computed
    failed: int  # unreadable tracks, left out of the run


@dataclass(frozen=True)
class Message:
    """A sentence for the user (a skipped file, "no test subset", …)."""

    text: str


# -- one training run (train.loop.fit, train.probe.run_probe) ---------------------------------


@dataclass(frozen=True)
class Resumed:
    epoch: int  # 0-based epoch and batch the run continues from
    batch: int
    path: str  # the state file it resumed from

    @property
    def text(self) -> str:
        return f"resumed from {self.path} at epoch {self.epoch + 1}, batch {self.batch + 1}"


@dataclass(frozen=True)
class EpochStarted:
    epoch: int  # 0-based
    epochs: int
    batches: int  # batches in this epoch


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 0-based
    batch: int  # 0-based
    batches: int
    loss: float
    lr: float  # the learning rate this batch used
    elapsed: float  # seconds since the epoch started


@dataclass(frozen=True)
class EpochEnded:
    """One row of the run's history (metrics.json), and where the run stands."""

    epoch: int  # 1-based: the number of epochs completed
    epochs: int
    train_loss: float
    valid_loss: float
    valid_track_accuracy: float
    valid_segment_accuracy: float
    lr: float
    seconds: float
    best_epoch: int  # 1-based epoch of the best validation accuracy so far

    @classmethod
    def from_row(cls, row: dict[str, Any], epochs: int, best_epoch: int) -> EpochEnded:
        return cls(
            row["epoch"], epochs, row["train_loss"], row["valid_loss"],
            row["valid_track_accuracy"], row["valid_segment_accuracy"], row["lr"],
            row["seconds"], best_epoch,
        )  # fmt: skip

    def row(self) -> dict[str, Any]:
        """The history row, as metrics.json holds it."""
        return {
            "epoch": self.epoch, "train_loss": self.train_loss, "valid_loss": self.valid_loss,
            "valid_track_accuracy": self.valid_track_accuracy,
            "valid_segment_accuracy": self.valid_segment_accuracy, "lr": self.lr,
            "seconds": self.seconds,
        }  # fmt: skip


@dataclass(frozen=True)
class CheckpointSaved:
    which: str  # "last" (the resumable state) or "best" (the model)
    path: str


@dataclass(frozen=True)
class RunStopped:
    """Stopped on request; the state to resume from is saved."""

    epoch: int  # 0-based epoch and batch a resume starts at
    batch: int


@dataclass(frozen=True)
class TestMeasured:
    metrics: dict[str, Any]  # Evaluation.report() of the test subset (+ "ece" for probes)


@dataclass(frozen=True)
class FitFinished:
    """One run (or one fold) trained and tested; its model is saved."""

    out_dir: str
    model: str


# -- k-fold (train.kfold.fit_folds) -------------------------------------------------------------


@dataclass(frozen=True)
class FoldStarted:
    fold: int  # 1-based
    folds: int

    @property
    def text(self) -> str:
        return f"fold {self.fold} of {self.folds}"


@dataclass(frozen=True)
class FoldEnded:
    fold: int  # 1-based
    folds: int
    test: dict[str, Any]  # this fold's test report


@dataclass(frozen=True)
class KFoldFinished:
    """Every fold finished: each score's mean, std and per-fold values."""

    summary: dict[str, dict[str, Any]]  # score -> {"mean", "std", "folds": [...]}
    folds: int
    model_from: str  # the fold folder whose model was kept (best on validation)


# -- the Train tab's job (train.runner.run_job) -------------------------------------------------


@dataclass(frozen=True)
class RunEnded:
    """The job is over: status "finished" or "stopped"."""

    status: str
    out_dir: str
    model: str | None = None  # the run's model, when it finished


@dataclass(frozen=True)
class RunFailed:
    text: str  # a sentence for the user
    traceback: str | None = None  # for the log, when the failure was unexpected


Event: TypeAlias = (
    DatasetFound | CacheStarted | CacheProgress | CacheDone | Message | Resumed | EpochStarted
    | BatchProgress | EpochEnded | CheckpointSaved | RunStopped | TestMeasured | FitFinished
    | FoldStarted | FoldEnded | KFoldFinished | RunEnded | RunFailed
)  # fmt: skip
EVENT_TYPES: tuple[type, ...] = get_args(Event)
EventSink: TypeAlias = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The sink when nobody listens."""
