"""Training the full network: the run `mgr-desktop train`, the training tab and torchrun start.
(A transfer architecture with a frozen backbone goes to `train.probe` from here.)

`fit(config, data, out_dir, on_event, stop)` reports through typed events (`train.events`,
so they cross a process queue) and stops within one batch when `stop` is set, leaving `last`
to resume from. The lifecycle it shares with the probe and distillation (optimiser, schedule,
clipping, stop, best on validation, calibration and test) is `train.lifecycle`'s; this module
supplies the batches and loss, and what only this run has: torchrun, mixed precision and
resume. In pieces: `_setup`, `_train_epoch` (`_loss` per batch), `_end_epoch` (evaluation,
best model, checkpoint), `_stop` and `_finish`.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mgr_desktop.config import FeatureConfig
from mgr_desktop.device import pick_device
from mgr_desktop.dsp.mel import normalise
from mgr_desktop.models.checkpoint import CheckpointError, ModelInfo, save_model
from mgr_desktop.train import events
from mgr_desktop.train.augment import EpochPlan, make_batch, plan_epoch
from mgr_desktop.train.class_weights import class_weights
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.distributed import Dist, init_from_env
from mgr_desktop.train.evaluation import evaluate
from mgr_desktop.train.events import EventSink, ignore
from mgr_desktop.train.lifecycle import (
    BestEpoch,
    Optimiser,
    TrainEpoch,
    build_seeded,
    calibrate_and_test,
    evaluate_part,
    finish,
)
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.runs import (
    METRICS_FILE,
    MODEL_FILE,
    STATE_FILE,
    RunResult,
    metrics_doc,
    run_summary,
    write_metrics,
)
from mgr_desktop.train.state import load_state, restore_rng, save_state

__all__ = ["METRICS_FILE", "MODEL_FILE", "STATE_FILE", "EventSink", "ResumableState",
           "ResumeError", "RunResult", "evaluate", "fit"]  # fmt: skip


class ResumeError(Exception):
    pass


@dataclass
class ResumableState:
    """What last.safetensors carries besides the weights, optimizer, scheduler and random
    generators: where a resume continues, and what the run has measured so far."""

    epoch: int = 0  # 0-based epoch and batch a resume starts at
    batch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch
    best_acc: float = -1.0  # best validation track accuracy, and its 1-based epoch
    best_epoch: int = -1
    loss_sum: float = 0.0  # the current epoch's training loss so far
    loss_count: int = 0

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ResumableState:
        return cls(**{f: meta[f] for f in cls.__dataclass_fields__})


@dataclass
class _Run:
    """One run: what `_setup` builds (again, on resume), the resumable state, and what is
    only reported."""

    config: TrainConfig
    data: TrainData
    out: Path
    emit: EventSink
    stop: threading.Event | None
    device: torch.device
    d: Dist
    model: nn.Module
    opt: Optimiser
    amp_dtype: torch.dtype | None = None
    net: nn.Module | None = None  # the model, or its DistributedDataParallel wrapper
    loss_fn: nn.Module | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    state: ResumableState = field(default_factory=ResumableState)
    # The best epoch so far (its weights: this session's only; after a resume they are on
    # disk), mirrored into `state`; and when the current epoch started.
    best: BestEpoch = field(default_factory=BestEpoch)
    epoch_t0: float = 0.0


def fit(
    config: TrainConfig,
    data: TrainData,
    out_dir: str | Path,
    on_event: EventSink | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
) -> RunResult:
    emit = on_event or ignore
    if config.probe:
        from mgr_desktop.train.probe import run_probe

        if resume:
            emit(events.Message("a head-only run is quick: starting it again"))
        return run_probe(config, data, Path(out_dir), emit, stop)
    run = _setup(config, data, Path(out_dir), emit, stop, resume)
    for epoch in range(run.state.epoch, config.epochs):
        stopped_at = _train_epoch(run, epoch)
        if stopped_at is not None:
            return _stop(run, epoch, stopped_at)
        _end_epoch(run, epoch)
    return _finish(run)


# -- set-up ------------------------------------------------------------------------------------
def _setup(
    config: TrainConfig,
    data: TrainData,
    out: Path,
    emit: EventSink,
    stop: threading.Event | None,
    resume: bool,
) -> _Run:
    device, d = _device_and_dist(config)
    if not d.is_main:  # only rank 0 talks and writes
        emit = ignore
    else:
        out.mkdir(parents=True, exist_ok=True)
    model = build_seeded(
        config,
        len(data.labels),
        device,
        pretrained=config.pretrained and not resume,
        on_message=lambda t: emit(events.Message(t)),
    )
    per_rank = len(data.split.train) * config.crops_per_track // d.world
    opt = Optimiser.for_run(model.parameters(), config, math.ceil(per_rank / config.batch_size))
    run = _Run(config, data, out, emit, stop, device, d, model, opt)
    if device.type == "cuda":  # mixed precision: bf16 where the GPU has it, else fp16 + scaler
        run.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if run.amp_dtype == torch.float16:
            opt.scaler = torch.amp.GradScaler("cuda")
    if resume:
        _resume(run)
    # Ties stay with the earlier epoch: the state file keeps no validation loss to break them.
    run.best = BestEpoch(run.state.best_acc, run.state.best_epoch, ties_to_lower_loss=False)
    run.net = model
    if d.enabled:
        run.net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    run.summary = run_summary(config, data)

    _, train_y = data.arrays("train")
    weights = class_weights(torch.tensor(train_y), len(data.labels), config)
    run.loss_fn = nn.CrossEntropyLoss(weight=weights.to(device))
    return run


def _device_and_dist(config: TrainConfig) -> tuple[torch.device, Dist]:
    device = pick_device(config.device)
    d = init_from_env(device.type)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    return device, d


def _resume(run: _Run) -> None:
    """Put back what the state file saved, refusing a state from another run."""
    path, labels = run.out / STATE_FILE, run.data.labels
    if not path.exists():
        raise ResumeError(f"{path}: nothing to resume (no training state in this folder)")
    try:
        meta, weights = load_state(path)
    except CheckpointError as e:
        raise ResumeError(str(e)) from None
    saved = TrainConfig.from_dict(meta["config"])
    if saved.arch != run.config.arch or meta["labels"] != labels:
        raise ResumeError(f"{path}: was a {saved.arch} run on labels {meta['labels']}; "
                          "resume with the same architecture and data")  # fmt: skip
    if FeatureConfig.from_dict(meta["features"]) != run.data.features_cfg:
        raise ResumeError(f"{path}: feature settings differ from this run's")
    run.model.load_state_dict(weights)
    opt = run.opt
    opt.optimizer.load_state_dict(meta["optimizer"])
    opt.scheduler.load_state_dict(meta["scheduler"])
    if opt.scaler and meta["scaler"]:
        opt.scaler.load_state_dict(meta["scaler"])
    restore_rng(meta["rng"])  # the CPU's generator, and the GPU's when it has one
    run.state = ResumableState.from_meta(meta)
    run.emit(events.Resumed(run.state.epoch, run.state.batch, str(path)))
    if run.state.epoch >= run.config.epochs:
        run.emit(events.Message("all epochs were already completed"))


# -- one epoch ---------------------------------------------------------------------------------
def _train_epoch(run: _Run, epoch: int) -> int | None:
    """Train `epoch` from where the state says; None when it ran to its end, else the batch
    at which `stop` was seen (not yet trained)."""
    config, d, state = run.config, run.d, run.state
    train_x, train_y = run.data.arrays("train")
    plan = plan_epoch(config, len(train_x), epoch, d.rank, d.world)
    batches = plan.batches(config.batch_size)
    first = state.batch if epoch == state.epoch else 0
    if first == 0:  # a mid-epoch resume restored the RNG state instead
        torch.manual_seed(config.seed * 100_003 + epoch * 1009 + d.rank)
        state.loss_sum, state.loss_count = 0.0, 0
    assert run.net is not None
    run.net.train()
    run.epoch_t0 = time.perf_counter()
    training = TrainEpoch(run.opt, epoch, len(batches), config.epochs, run.emit, run.stop, first)
    for b in training:
        loss = training.step(_loss(run, train_x, train_y, plan, batches[b]))
        state.loss_sum += loss * len(batches[b])
        state.loss_count += len(batches[b])
    return training.stopped_at


def _loss(
    run: _Run, train_x: list[Any], train_y: list[int], plan: EpochPlan, idx: Any
) -> torch.Tensor:
    """One batch's loss: augmented, mixed up when the plan says, in mixed precision on CUDA."""
    cfg, device = run.data.features_cfg, run.device
    x = make_batch(train_x, plan, idx, cfg.segment_frames, cfg.floor_value)
    x = normalise(x, cfg).unsqueeze(1)
    y = torch.tensor([train_y[plan.order[i]] for i in idx])
    x, y = x.to(device), y.to(device)
    lam = float(plan.mixup_lam[idx[0]])
    perm = None
    if lam < 1.0:
        g = torch.Generator().manual_seed(int(plan.mixup_perm_seed[idx[0]]))
        perm = torch.randperm(len(idx), generator=g).to(device)
        x = lam * x + (1 - lam) * x[perm]
    assert run.net is not None and run.loss_fn is not None
    with torch.autocast(device.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
        logits = run.net(x)
        loss = run.loss_fn(logits.float(), y)
        if perm is not None:
            loss = lam * loss + (1 - lam) * run.loss_fn(logits.float(), y[perm])
    return loss


# -- evaluation and checkpoints ----------------------------------------------------------------
def _end_epoch(run: _Run, epoch: int) -> None:
    """Validate, keep the model if it is the best so far, checkpoint, report."""
    config, d, state = run.config, run.d, run.state
    train_loss = d.mean(state.loss_sum / max(1, state.loss_count))
    ev = evaluate_part(run.model, run.data, config, run.device, "valid", d)
    row = {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": ev.loss,
           "valid_track_accuracy": ev.track_accuracy,
           "valid_segment_accuracy": ev.segment_accuracy, "lr": run.opt.lr,
           "seconds": time.perf_counter() - run.epoch_t0}  # fmt: skip
    state.history.append(row)
    if run.best.offer(run.model, epoch, ev.track_accuracy, ev.loss):
        state.best_acc, state.best_epoch = run.best.accuracy, run.best.epoch
        if d.is_main:
            _save_model(run, epochs_completed=epoch + 1)
            run.emit(events.CheckpointSaved("best", str(run.out / MODEL_FILE)))
    state.loss_sum, state.loss_count = 0.0, 0
    _checkpoint(run, epoch + 1, 0)
    if d.is_main:
        write_metrics(run.out, metrics_doc(state.history, run.data, None, epoch + 1))
    run.emit(events.EpochEnded.from_row(row, config.epochs, state.best_epoch))


def _checkpoint(run: _Run, epoch: int, batch: int) -> None:
    """Save the resumable state (rank 0) as at (epoch, batch)."""
    run.state.epoch, run.state.batch = epoch, batch
    if not run.d.is_main:
        return
    data = run.data
    save_state(run.out / STATE_FILE, model=run.model, optimizer=run.opt.optimizer,
               scheduler=run.opt.scheduler, scaler=run.opt.scaler, meta={
                   **asdict(run.state), "config": run.config.to_dict(), "labels": data.labels,
                   "features": data.features_cfg.to_dict(), "split": data.split.to_json(),
               })  # fmt: skip
    run.emit(events.CheckpointSaved("last", str(run.out / STATE_FILE)))


def _save_model(
    run: _Run,
    epochs_completed: int,
    temperature: float | None = None,
    scores: dict[str, Any] | None = None,
) -> None:
    state, data = run.state, run.data
    training = {**run.summary, "best_epoch": state.best_epoch, "epochs_completed":
                epochs_completed, "valid_track_accuracy": state.best_acc}  # fmt: skip
    calibrated: dict[str, Any] = {}
    if temperature is not None:
        training["temperature"] = calibrated["temperature"] = temperature
    save_model(run.out / MODEL_FILE, run.model, ModelInfo(
        run.config.arch, tuple(data.labels), data.features_cfg, name=run.out.name,
        training={**training, **(scores or {})}, **calibrated))  # fmt: skip


# -- stopping and finishing --------------------------------------------------------------------
def _stop(run: _Run, epoch: int, batch: int) -> RunResult:
    _checkpoint(run, epoch, batch)
    run.d.barrier()
    run.emit(events.RunStopped(epoch, batch))
    return RunResult("stopped", run.out, metrics_doc(run.state.history, run.data, None, epoch))


def _finish(run: _Run) -> RunResult:
    """The best weights, calibrated and tested (`lifecycle.calibrate_and_test`), saved with
    their temperature and test scores."""
    d, data, state = run.d, run.data, run.state
    if not run.best.restore(run.model):
        run.model.load_state_dict(_best_from_disk(run.out, run.model, d))
    temperature, report = calibrate_and_test(run.model, data, run.config, run.device, run.emit,
                                             d)  # fmt: skip
    metrics = metrics_doc(state.history, data, report, len(state.history), finished=True)
    if d.is_main:
        scores = {} if report is None else {
            "test_track_accuracy": report["track_accuracy"],
            "test_segment_accuracy": report["segment_accuracy"],
            "test_macro_f1": report["macro_f1"]}  # fmt: skip
        _save_model(run, len(state.history), temperature, scores)
    return finish(run.out, run.emit, metrics, report, d)


def _best_from_disk(out: Path, model: nn.Module, d: Dist) -> dict[str, torch.Tensor]:
    """After a resume the best weights live only in model.safetensors."""
    from mgr_desktop.models.checkpoint import read_tensors

    d.barrier()
    if (out / MODEL_FILE).exists():
        tensors, _ = read_tensors(out / MODEL_FILE)
        return tensors
    return copy.deepcopy(model.state_dict())
