"""The one training loop, used by `mgr-desktop train`, the training tab and torchrun.

`fit(config, data, out_dir, on_event, stop)` reports through typed events (`train.events`:
frozen dataclasses, so they cross a process queue) and stops within one batch when `stop` is
set, leaving `last` to resume from.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mgr_desktop.config import FeatureConfig
from mgr_desktop.device import pick_device
from mgr_desktop.dsp.mel import normalise
from mgr_desktop.models.checkpoint import CheckpointError, ModelInfo, save_model
from mgr_desktop.models.registry import build_model
from mgr_desktop.train.augment import make_batch, plan_epoch
from mgr_desktop.train.calibrate import fit_temperature
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.distributed import Dist, init_from_env
from mgr_desktop.train.evaluation import evaluate, window_logp_per_track
from mgr_desktop.train.events import (
    BatchProgress,
    CheckpointSaved,
    EpochEnded,
    EpochStarted,
    EventSink,
    FitFinished,
    Message,
    Resumed,
    RunStopped,
    TestMeasured,
    ignore,
)
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.runs import (
    METRICS_FILE,
    MODEL_FILE,
    STATE_FILE,
    metrics_doc,
    run_summary,
    write_metrics,
)
from mgr_desktop.train.state import load_state, restore_rng, save_state

__all__ = ["METRICS_FILE", "MODEL_FILE", "STATE_FILE", "EventSink", "ResumeError", "RunResult",
           "evaluate", "fit"]  # fmt: skip


@dataclass
class RunResult:
    status: str  # "finished" or "stopped"
    out_dir: Path
    metrics: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.out_dir / MODEL_FILE


class ResumeError(Exception):
    pass


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
            emit(Message("a head-only run is quick: starting it again"))
        return run_probe(config, data, Path(out_dir), emit, stop)
    device = pick_device(config.device)
    d = init_from_env(device.type)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    if not d.is_main:  # only rank 0 talks and writes
        emit = ignore
    out = Path(out_dir)
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
    labels = data.labels
    cfg = data.features_cfg
    train_x, train_y = data.arrays("train")
    valid_x, valid_y = data.arrays("valid")
    width = cfg.segment_frames

    torch.manual_seed(config.seed)  # the initial weights, too, come from the seed
    model = build_model(
        config.arch,
        len(labels),
        pretrained=config.pretrained and not resume,
        on_message=lambda t: emit(Message(t)),
    )
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.peak_lr, weight_decay=config.weight_decay
    )
    per_rank = len(train_x) * config.crops_per_track // d.world
    steps_per_epoch = math.ceil(per_rank / config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.peak_lr, total_steps=config.epochs * steps_per_epoch
    )
    amp_dtype = None
    scaler = None
    if device.type == "cuda":  # mixed precision: bf16 where the GPU has it, else fp16 + scaler
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if amp_dtype == torch.float16:
            scaler = torch.amp.GradScaler("cuda")

    start_epoch, start_batch = 0, 0
    history: list[dict[str, Any]] = []
    best_acc, best_epoch = -1.0, -1
    loss_sum, loss_count = 0.0, 0
    best_state: dict[str, torch.Tensor] | None = None
    if resume:
        meta, weights = _load_resume(out / STATE_FILE, config, labels, cfg)
        model.load_state_dict(weights)
        optimizer.load_state_dict(meta["optimizer"])
        scheduler.load_state_dict(meta["scheduler"])
        if scaler and meta["scaler"]:
            scaler.load_state_dict(meta["scaler"])
        restore_rng(meta["rng"])  # the CPU's generator, and the GPU's when it has one
        start_epoch, start_batch = meta["epoch"], meta["batch"]
        history, best_acc, best_epoch = meta["history"], meta["best_acc"], meta["best_epoch"]
        loss_sum, loss_count = meta["loss_sum"], meta["loss_count"]
        emit(Resumed(start_epoch, start_batch, str(out / STATE_FILE)))
        if start_epoch >= config.epochs:
            emit(Message("all epochs were already completed"))

    net: nn.Module = model
    if d.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    def snapshot(epoch: int, batch: int) -> None:
        if not d.is_main:
            return
        save_state(out / STATE_FILE, model=model, optimizer=optimizer, scheduler=scheduler,
                   scaler=scaler, meta={
                       "epoch": epoch, "batch": batch, "history": history,
                       "best_acc": best_acc, "best_epoch": best_epoch,
                       "loss_sum": loss_sum, "loss_count": loss_count,
                       "config": config.to_dict(), "labels": labels,
                       "features": cfg.to_dict(), "split": data.split.to_json(),
                   })  # fmt: skip
        emit(CheckpointSaved("last", str(out / STATE_FILE)))

    summary = run_summary(config, data)
    from mgr_desktop.train.probe import class_weights

    weights = class_weights(torch.tensor(train_y), len(labels), config)
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(device))
    for epoch in range(start_epoch, config.epochs):
        plan = plan_epoch(config, len(train_x), epoch, d.rank, d.world)
        batches = plan.batches(config.batch_size)
        first = start_batch if epoch == start_epoch else 0
        if first == 0:  # a mid-epoch resume restored the RNG state instead
            torch.manual_seed(config.seed * 100_003 + epoch * 1009 + d.rank)
            loss_sum, loss_count = 0.0, 0
        emit(EpochStarted(epoch, config.epochs, len(batches)))
        net.train()
        t0 = time.perf_counter()
        for b in range(first, len(batches)):
            if stop is not None and stop.is_set():
                snapshot(epoch, b)
                d.barrier()
                emit(RunStopped(epoch, b))
                return RunResult("stopped", out, metrics_doc(history, data, None, epoch))
            idx = batches[b]
            x = normalise(make_batch(train_x, plan, idx, width, cfg.floor_value), cfg).unsqueeze(1)
            y = torch.tensor([train_y[plan.order[i]] for i in idx])
            x, y = x.to(device), y.to(device)
            lam = float(plan.mixup_lam[idx[0]])
            perm = None
            if lam < 1.0:
                g = torch.Generator().manual_seed(int(plan.mixup_perm_seed[idx[0]]))
                perm = torch.randperm(len(idx), generator=g).to(device)
                x = lam * x + (1 - lam) * x[perm]
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = net(x)
                loss = loss_fn(logits.float(), y)
                if perm is not None:
                    loss = lam * loss + (1 - lam) * loss_fn(logits.float(), y[perm])
            optimizer.zero_grad(set_to_none=True)
            lr = scheduler.get_last_lr()[0]  # the rate this batch uses
            if scaler:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if config.clip_value is not None:
                nn.utils.clip_grad_value_(model.parameters(), config.clip_value)
            elif config.clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(idx)
            loss_count += len(idx)
            emit(BatchProgress(epoch, b, len(batches), float(loss.detach()), lr,
                               time.perf_counter() - t0))  # fmt: skip

        train_loss = d.mean(loss_sum / max(1, loss_count))
        ev = evaluate(model, valid_x, valid_y, labels, cfg, device, config.eval_hop_seconds, d)
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "valid_loss": ev.loss,
            "valid_track_accuracy": ev.track_accuracy,
            "valid_segment_accuracy": ev.segment_accuracy,
            "lr": scheduler.get_last_lr()[0],
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        if ev.track_accuracy > best_acc:
            best_acc, best_epoch = ev.track_accuracy, epoch + 1
            best_state = copy.deepcopy(model.state_dict())
            if d.is_main:
                save_model(out / MODEL_FILE, model, ModelInfo(
                    config.arch, tuple(labels), cfg, name=out.name,
                    training={**summary, "best_epoch": best_epoch, "epochs_completed": epoch + 1,
                              "valid_track_accuracy": best_acc}))  # fmt: skip
                emit(CheckpointSaved("best", str(out / MODEL_FILE)))
        loss_sum, loss_count = 0.0, 0
        snapshot(epoch + 1, 0)
        if d.is_main:
            write_metrics(out, metrics_doc(history, data, None, epoch + 1))
        emit(EpochEnded.from_row(row, config.epochs, best_epoch))

    # Test once, with the best weights (chosen on validation, never on test).
    if best_state is None:
        best_state = _best_from_disk(out, model, d)
    model.load_state_dict(best_state)
    # Calibrate: one temperature fitted on the validation tracks, saved with the model.
    temperature = fit_temperature(
        window_logp_per_track(
            model, valid_x, valid_y, labels, cfg, device, config.eval_hop_seconds, d
        ),
        valid_y,
    )
    test_x, test_y = data.arrays("test")
    report = None
    if test_x:
        test = evaluate(model, test_x, test_y, labels, cfg, device, config.eval_hop_seconds, d,
                        temperature=temperature)  # fmt: skip
        report = test.report()
    else:
        emit(Message("no test subset: the test was not measured"))
    metrics = metrics_doc(history, data, report, len(history), finished=True)
    if d.is_main:
        write_metrics(out, metrics)
        scores = {} if report is None else {
            "test_track_accuracy": report["track_accuracy"],
            "test_segment_accuracy": report["segment_accuracy"],
            "test_macro_f1": report["macro_f1"]}  # fmt: skip
        save_model(out / MODEL_FILE, model, ModelInfo(
            config.arch, tuple(labels), cfg, name=out.name, temperature=temperature,
            training={**summary, "best_epoch": best_epoch, "epochs_completed": len(history),
                      "valid_track_accuracy": best_acc, "temperature": temperature,
                      **scores}))  # fmt: skip
    d.barrier()
    if report is not None:
        emit(TestMeasured(report))
    emit(FitFinished(str(out), str(out / MODEL_FILE)))
    return RunResult("finished", out, metrics)


def _best_from_disk(out: Path, model: nn.Module, d: Dist) -> dict[str, torch.Tensor]:
    """After a resume the best weights live only in model.safetensors."""
    from mgr_desktop.models.checkpoint import read_tensors

    d.barrier()
    if (out / MODEL_FILE).exists():
        tensors, _ = read_tensors(out / MODEL_FILE)
        return tensors
    return copy.deepcopy(model.state_dict())


def _load_resume(
    path: Path, config: TrainConfig, labels: list[str], cfg: FeatureConfig
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    if not path.exists():
        raise ResumeError(f"{path}: nothing to resume (no training state in this folder)")
    try:
        meta, weights = load_state(path)
    except CheckpointError as e:
        raise ResumeError(str(e)) from None
    saved = TrainConfig.from_dict(meta["config"])
    if saved.arch != config.arch or meta["labels"] != labels:
        raise ResumeError(
            f"{path}: was a {saved.arch} run on labels {meta['labels']}; "
            "resume with the same architecture and data"
        )
    if FeatureConfig.from_dict(meta["features"]) != cfg:
        raise ResumeError(f"{path}: feature settings differ from this run's")
    return meta, weights
