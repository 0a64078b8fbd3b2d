"""The one training loop, used by `mgr-desktop train`, the training tab and torchrun.

`fit(config, data, out_dir, on_event, stop)` reports through events (plain dicts, so they
cross a process queue) and stops within one batch when `stop` is set, leaving `last` to
resume from.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.config import FeatureConfig
from mgr_desktop.device import pick_device
from mgr_desktop.dsp.mel import frame_windows, normalise
from mgr_desktop.models.checkpoint import CheckpointError, ModelInfo, save_model
from mgr_desktop.models.registry import build_model
from mgr_desktop.train.augment import make_batch, plan_epoch
from mgr_desktop.train.calibrate import fit_temperature
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.distributed import Dist, init_from_env
from mgr_desktop.train.metrics import Evaluation, evaluation_from_window_logp
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.state import load_state, restore_rng, save_state

EventSink = Callable[[dict[str, Any]], None]
MODEL_FILE, STATE_FILE, METRICS_FILE = "model.safetensors", "last.safetensors", "metrics.json"


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


def evaluate(
    model: nn.Module,
    feats: list[np.ndarray],
    targets: list[int],
    labels: list[str],
    cfg: FeatureConfig,
    device: torch.device,
    hop_seconds: float = 1.5,
    dist: Dist | None = None,
    batch_windows: int = 256,
    temperature: float = 1.0,
    per_track_out: dict[int, np.ndarray] | None = None,
) -> Evaluation:
    """Every window of every track (hop `hop_seconds`), aggregated per track as in inference.
    Under torchrun each rank takes a share of the tracks and the results are gathered."""
    if hasattr(model, "track_logits"):  # a track head gives the verdict, as in inference
        return _evaluate_track_head(model, feats, targets, labels, cfg, device, hop_seconds,
                                    temperature)  # fmt: skip
    d = dist or Dist()
    mine = list(range(d.rank, len(feats), d.world))
    per_track: dict[int, np.ndarray] = {}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        pending: list[tuple[int, torch.Tensor]] = []

        def flush() -> None:
            x = torch.cat([w for _, w in pending])
            x = normalise(x, cfg).unsqueeze(1).to(device)
            logp = torch.log_softmax(model(x).float() / temperature, -1).cpu().numpy()
            pos = 0
            for i, w in pending:
                per_track[i] = logp[pos : pos + len(w)]
                pos += len(w)
            pending.clear()

        for i in mine:
            windows, _ = frame_windows(
                torch.from_numpy(feats[i].astype(np.float32)), cfg, hop_seconds
            )
            pending.append((i, windows))
            if sum(len(w) for _, w in pending) >= batch_windows:
                flush()
        if pending:
            flush()
    model.train(was_training)
    for part in d.gather(per_track):
        per_track.update(part)
    if per_track_out is not None:
        per_track_out.update(per_track)
    order = sorted(per_track)
    return evaluation_from_window_logp(
        [per_track[i] for i in order], [targets[i] for i in order], labels
    )


def _evaluate_track_head(
    model: nn.Module,
    feats: list[np.ndarray],
    targets: list[int],
    labels: list[str],
    cfg: FeatureConfig,
    device: torch.device,
    hop_seconds: float,
    temperature: float,
) -> Evaluation:
    from mgr_desktop.train.embeddings import segment_embeddings
    from mgr_desktop.train.probe import probe_report

    model.eval()
    embeddings = [
        torch.from_numpy(segment_embeddings(model, f, cfg, hop_seconds, device)) for f in feats
    ]
    report = probe_report(model, embeddings, targets, labels, device, temperature)
    segments = [
        torch.log_softmax(model.head_logits(e.to(device)).float(), -1).cpu().numpy()  # type: ignore[operator]
        for e in embeddings
    ]
    ev = evaluation_from_window_logp(segments, targets, labels)
    ev.track_pred = np.asarray(report["probabilities"]).argmax(1)
    return ev


def fit(
    config: TrainConfig,
    data: TrainData,
    out_dir: str | Path,
    on_event: EventSink | None = None,
    stop: threading.Event | None = None,
    resume: bool = False,
) -> RunResult:
    emit = on_event or (lambda e: None)
    if config.probe:
        from mgr_desktop.train.probe import run_probe

        if resume:
            emit({"kind": "message", "text": "a head-only run is quick: starting it again"})
        return run_probe(config, data, Path(out_dir), emit, stop)
    device = pick_device(config.device)
    d = init_from_env(device.type)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    if not d.is_main:  # only rank 0 talks and writes
        emit = lambda e: None  # noqa: E731
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
        on_message=lambda t: emit({"kind": "message", "text": t}),
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
        emit(
            {
                "kind": "resumed",
                "epoch": start_epoch,
                "batch": start_batch,
                "text": f"resumed from {out / STATE_FILE} at epoch {start_epoch + 1}, "
                f"batch {start_batch + 1}",
            }
        )
        if start_epoch >= config.epochs:
            emit({"kind": "message", "text": "all epochs were already completed"})

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
        emit({"kind": "checkpoint", "which": "last", "path": str(out / STATE_FILE)})

    summary = _summary(config, data)
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
        emit(
            {
                "kind": "epoch_start",
                "epoch": epoch,
                "epochs": config.epochs,
                "batches": len(batches),
            }
        )
        net.train()
        t0 = time.perf_counter()
        for b in range(first, len(batches)):
            if stop is not None and stop.is_set():
                snapshot(epoch, b)
                d.barrier()
                emit({"kind": "stopped", "epoch": epoch, "batch": b})
                return RunResult("stopped", out, _metrics_doc(history, data, None, epoch))
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
            emit(
                {
                    "kind": "batch",
                    "epoch": epoch,
                    "batch": b,
                    "batches": len(batches),
                    "loss": float(loss.detach()),
                    "lr": lr,
                    "elapsed": time.perf_counter() - t0,
                }
            )

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
                emit({"kind": "checkpoint", "which": "best", "path": str(out / MODEL_FILE)})
        loss_sum, loss_count = 0.0, 0
        snapshot(epoch + 1, 0)
        if d.is_main:
            write_text_atomic(
                out / METRICS_FILE,
                json.dumps(_metrics_doc(history, data, None, epoch + 1), indent=1),
            )
        emit({"kind": "epoch_end", **row, "epochs": config.epochs, "best_epoch": best_epoch})

    # Test once, with the best weights (chosen on validation, never on test).
    if best_state is None:
        best_state = _best_from_disk(out, model, d)
    model.load_state_dict(best_state)
    # Calibrate: one temperature fitted on the validation tracks, saved with the model.
    temperature = fit_temperature(
        _window_logp(model, valid_x, valid_y, labels, cfg, device, config, d), valid_y
    )
    test_x, test_y = data.arrays("test")
    report = None
    if test_x:
        test = evaluate(model, test_x, test_y, labels, cfg, device, config.eval_hop_seconds, d,
                        temperature=temperature)  # fmt: skip
        report = test.report()
    else:
        emit({"kind": "message", "text": "no test subset: the test was not measured"})
    metrics = _metrics_doc(history, data, report, len(history))
    if d.is_main:
        write_text_atomic(out / METRICS_FILE, json.dumps(metrics, indent=1))
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
        emit({"kind": "test", "metrics": report})
    emit({"kind": "done", "out_dir": str(out), "model": str(out / MODEL_FILE)})
    return RunResult("finished", out, metrics)


def _window_logp(
    model: nn.Module,
    feats: list[np.ndarray],
    targets: list[int],
    labels: list[str],
    cfg: FeatureConfig,
    device: torch.device,
    config: TrainConfig,
    d: Dist,
) -> list[torch.Tensor]:
    """Each validation track's window log-probabilities, for fitting the temperature."""
    ev_hook: dict[int, np.ndarray] = {}
    evaluate(model, feats, targets, labels, cfg, device, config.eval_hop_seconds, d,
             per_track_out=ev_hook)  # fmt: skip
    return [torch.from_numpy(ev_hook[i]) for i in sorted(ev_hook)]


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


def _summary(config: TrainConfig, data: TrainData) -> dict[str, Any]:
    return {
        "data": data.root, "split": data.split.name,
        "tracks": {p: len(getattr(data.split, p)) for p in ("train", "valid", "test")},
        "arch": config.arch, "epochs": config.epochs, "batch_size": config.batch_size,
        "max_lr": config.peak_lr, "weight_decay": config.weight_decay,
        "clip_value": config.clip_value, "clip_norm": config.clip_norm, "seed": config.seed,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip


def _metrics_doc(
    history: list[dict[str, Any]],
    data: TrainData,
    test: dict[str, Any] | None,
    epochs_completed: int,
) -> dict[str, Any]:
    return {"history": history, "epochs_completed": epochs_completed,
            "split": data.split.to_json(), "split_name": data.split.name,
            "labels": data.labels, "test": test}  # fmt: skip
