"""A training job as a spawned process: the window's Stop is an Event, its progress the same
event dicts `fit` emits, sent through a queue. No Qt here; the tab only reads the queue."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing as mp
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mgr_desktop.atomic import write_text_atomic

RUN_FILE = "run.json"


@dataclass
class TrainJob:
    data_root: str
    out_dir: str
    split: str = "random"
    folds: int = 5
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    cache: str | None = None
    resume: bool = False

    def save(self) -> None:
        write_text_atomic(Path(self.out_dir) / RUN_FILE, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, run_dir: str | Path) -> TrainJob:
        data = json.loads((Path(run_dir) / RUN_FILE).read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def run_name(arch: str, split: str, when: datetime | None = None) -> str:
    """Run folders name their settings: 2026-11-23_2145_cnn_fault-filtered."""
    return f"{(when or datetime.now()):%Y-%m-%d_%H%M%S}_{arch}_{split}"


def explain_failure(e: BaseException) -> str:
    """A sentence for the user; the traceback goes to the log."""
    text = str(e)
    if isinstance(e, MemoryError) or "out of memory" in text.lower():
        return "out of memory: try a smaller batch size, or the CNN instead of ResNet18"
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return (
            f"the disk is full ({getattr(e, 'filename', '') or 'writing the run'}): free some space"
        )
    if isinstance(e, OSError):
        return f"cannot read or write {e.filename or 'a file'}: {e.strerror or e}"
    return f"{type(e).__name__}: {text}"


def run_job(job: TrainJob, events: Any, stop: Any) -> None:
    """Process entry point: prepare data, train (every fold for k-fold), report through
    `events`. Never raises: failures become an 'error' event."""
    from mgr_desktop.models.registry import get_architecture
    from mgr_desktop.train.cache import Stopped
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.discover import DatasetError
    from mgr_desktop.train.kfold import fit_folds
    from mgr_desktop.train.loop import ResumeError, fit
    from mgr_desktop.train.recipe import TrainConfig

    put = events.put
    try:
        config = TrainConfig.from_dict(job.config)
        out = Path(job.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        job.save()
        folds = prepare(
            job.data_root, job.split, config.seed, job.folds, job.cache,
            features_cfg=get_architecture(config.arch).features, on_event=put, stop=stop,
        )  # fmt: skip
        if len(folds) == 1:
            result = fit(config, folds[0], out, put, stop, resume=job.resume)
            put(
                {
                    "kind": "finished",
                    "status": result.status,
                    "out_dir": str(out),
                    "model": str(result.model_path),
                }
            )
            return
        status, _ = fit_folds(config, folds, out, put, stop)
        put(
            {
                "kind": "finished",
                "status": status,
                "out_dir": str(out),
                "model": str(out / "model.safetensors"),
            }
        )
    except Stopped:
        put({"kind": "finished", "status": "stopped", "out_dir": job.out_dir})
    except (DatasetError, ResumeError, ValueError) as e:
        put({"kind": "error", "text": str(e)})
    except BaseException as e:  # the child must report, not vanish
        logging.getLogger(__name__).error("training failed\n%s", traceback.format_exc())
        put({"kind": "error", "text": explain_failure(e), "traceback": traceback.format_exc()})


def start_process(job: TrainJob) -> tuple[mp.process.BaseProcess, Any, Any]:
    """Spawn (not fork: the parent has Qt and threads) a training process."""
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=run_job, args=(job, events, stop), name="mgr-train", daemon=True)
    proc.start()
    return proc, events, stop


def install_model(run_dir: str | Path) -> Path:
    """Copy a finished run's model into the user's models folder, named after the run."""
    from mgr_desktop.atomic import write_bytes_atomic
    from mgr_desktop.paths import models_dir

    src = Path(run_dir) / "model.safetensors"
    dst = models_dir() / f"{Path(run_dir).name}.safetensors"
    write_bytes_atomic(dst, src.read_bytes())
    return dst


def list_runs(folder: str | Path) -> list[Path]:
    """Run folders, newest first."""
    base = Path(folder)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / RUN_FILE).exists()), reverse=True)
