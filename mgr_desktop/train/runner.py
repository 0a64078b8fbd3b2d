"""A training job as a spawned process: the window's Stop is an Event, its progress the same
typed events `fit` emits (`train.events`), sent through a queue. No Qt here: the tab holds a
`TrainProcess` and polls it."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing as mp
import queue
import traceback
from dataclasses import asdict, dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.train.events import Event, EventSink, RunEnded, RunFailed
from mgr_desktop.train.runs import MODEL_FILE, RUN_FILE, STOPPED


@dataclass
class TrainJob:
    data_root: str
    out_dir: str
    split: str = "random"
    folds: int = 5
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    cache: str | None = None
    resume: bool = False
    # A music library labelled by its files' genre tags (train.tag_dataset), split by artist.
    labels_from_tags: bool = False
    min_tracks: int = 5
    min_artists: int = 2

    def save(self) -> None:
        write_text_atomic(Path(self.out_dir) / RUN_FILE, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, run_dir: str | Path) -> TrainJob:
        data = json.loads((Path(run_dir) / RUN_FILE).read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


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
    `events`. Never raises: the last event is a RunEnded or a RunFailed."""
    from mgr_desktop.train.cache import Stopped
    from mgr_desktop.train.dataset_tracks import DatasetError
    from mgr_desktop.train.loop import ResumeError

    put = events.put
    try:
        put(_train(job, put, stop))
    except Stopped:
        put(RunEnded(STOPPED, job.out_dir))
    except (DatasetError, ResumeError, ValueError) as e:
        put(RunFailed(str(e)))
    except BaseException as e:  # the child must report, not vanish
        logging.getLogger(__name__).error("training failed\n%s", traceback.format_exc())
        put(RunFailed(explain_failure(e), traceback.format_exc()))


def _train(job: TrainJob, put: EventSink, stop: Any) -> RunEnded:
    from mgr_desktop.models.registry import get_architecture
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.kfold import fit_folds
    from mgr_desktop.train.loop import fit
    from mgr_desktop.train.recipe import TrainConfig
    from mgr_desktop.train.tag_dataset import TagRules, write_untagged

    config = TrainConfig.from_dict(job.config)
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job.save()
    tags = TagRules(job.min_tracks, job.min_artists) if job.labels_from_tags else None
    folds = prepare(
        job.data_root, job.split, config.seed, job.folds, job.cache,
        features_cfg=get_architecture(config.arch).features, on_event=put, stop=stop, tags=tags,
    )  # fmt: skip
    write_untagged(out, folds[0].report)
    if len(folds) == 1:
        result = fit(config, folds[0], out, put, stop, resume=job.resume)
        return RunEnded(result.status, str(out), str(result.model_path))
    status, _ = fit_folds(config, folds, out, put, stop)
    return RunEnded(status, str(out), str(out / MODEL_FILE))


def start_process(job: TrainJob) -> tuple[BaseProcess, Any, Any]:
    """Spawn (not fork: the parent has Qt and threads) a training process."""
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=run_job, args=(job, events, stop), name="mgr-train", daemon=True)
    proc.start()
    return proc, events, stop


class TrainProcess:
    """The window's side of a training job: start it in its own process, stop it, and collect
    its events. A process that dies without saying how it ended is reported as a RunFailed."""

    def __init__(self, job: TrainJob) -> None:
        self.job = job
        self.proc, self.events, self.stop_event = start_process(job)
        self.over = False  # a RunEnded or RunFailed has been collected

    @property
    def alive(self) -> bool:
        return self.proc.is_alive()

    def stop(self) -> None:
        self.stop_event.set()

    def poll(self, limit: int = 500) -> list[Event]:
        """The events that have arrived (at most `limit`), without waiting."""
        got: list[Event] = []
        for _ in range(limit):
            try:
                got.append(self.events.get_nowait())
            except (queue.Empty, OSError, ValueError, EOFError):
                break
        self.over = self.over or _ends(got)
        if not self.over and not self.proc.is_alive():
            got += self._last_events()
            self.over = True
        return got

    def _last_events(self) -> list[Event]:
        got: list[Event] = []
        try:  # a last look: events can arrive just after the process exits
            while True:
                got.append(self.events.get(timeout=0.2))
        except (queue.Empty, OSError, ValueError, EOFError):
            pass
        if not _ends(got):
            code = self.proc.exitcode
            got.append(RunFailed(f"The training process ended unexpectedly (exit code {code})."))
        return got

    def stop_and_wait(self, timeout: float = 30.0) -> list[Event]:
        """Stop, let the run write its checkpoint, end the process; the events it left."""
        self.stop()
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        return self.poll(limit=10_000)

    def join(self, timeout: float = 5.0) -> None:
        self.proc.join(timeout)


def _ends(events: list[Event]) -> bool:
    return any(isinstance(e, (RunEnded, RunFailed)) for e in events)
