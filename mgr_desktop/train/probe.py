"""A genre head on a frozen pretrained backbone, trained on cached segment embeddings.

The same lifecycle as the full network (`train.lifecycle`: AdamW, OneCycle, clipping; epoch
and batch events, stop, best on validation), but each step touches only the head, so a run
takes seconds once the embeddings are cached. Calibration and test are its own: the verdict
comes from a track head fitted on the segment embeddings.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from mgr_desktop.device import pick_device
from mgr_desktop.models.checkpoint import ModelInfo, save_model
from mgr_desktop.paths import cache_dir
from mgr_desktop.train.calibrate import expected_calibration_error, fit_temperature
from mgr_desktop.train.class_weights import class_weights
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.embeddings import EmbeddingCache
from mgr_desktop.train.evaluation import evaluate_embeddings, track_logits, window_logp
from mgr_desktop.train.events import (
    CacheDone,
    CacheProgress,
    CacheStarted,
    CheckpointSaved,
    EpochEnded,
    EventSink,
    Message,
    RunStopped,
)
from mgr_desktop.train.lifecycle import BestEpoch, Optimiser, TrainEpoch, build_seeded, finish
from mgr_desktop.train.metrics import Evaluation
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.runs import MODEL_FILE, RunResult, metrics_doc, run_summary

if TYPE_CHECKING:
    from mgr_desktop.models.transfer import MusicnnGenre


def fit_probe(
    config: TrainConfig,
    data: TrainData,
    out: Path,
    emit: EventSink,
    stop: threading.Event | None,
    calibrate: bool = True,
) -> tuple[str, nn.Module, list[dict[str, Any]], float, int, float]:
    """Train the heads. Returns (status, model with the best heads, history, best valid
    accuracy, best epoch, temperature). `calibrate=False` leaves both heads uncalibrated
    (temperature 1), for callers that calibrate on other predictions."""
    from mgr_desktop.models.transfer import MusicnnGenre

    device = pick_device(config.device)
    model = build_seeded(config, len(data.labels), device, pretrained=True)
    assert isinstance(model, MusicnnGenre)
    model.eval()
    emb = _embed_every_track(config, data, model, device, emit, stop)

    def part(name: str) -> tuple[list[torch.Tensor], list[int]]:
        index = {lab: i for i, lab in enumerate(data.labels)}
        ts = getattr(data.split, name)
        return [torch.from_numpy(emb[str(t.path)]) for t in ts], [index[t.label] for t in ts]

    train_e, train_y = part("train")
    valid_e, valid_y = part("valid")
    x = torch.cat(train_e).to(device)
    y = torch.cat([torch.full((len(e),), c) for e, c in zip(train_e, train_y, strict=True)])
    y = y.to(device)
    model.set_standardisation(x)
    steps = math.ceil(len(x) / config.batch_size)
    opt = Optimiser.for_run(model.head.parameters(), config, steps)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(y, len(data.labels), config).to(device))
    history: list[dict[str, Any]] = []
    best = BestEpoch()
    for epoch in range(config.epochs):
        training = TrainEpoch(opt, epoch, steps, config.epochs, emit, stop)
        train_loss = _train_head(model, x, y, loss_fn, training, config)
        if training.stopped_at is not None:
            emit(RunStopped(epoch, training.stopped_at))
            return "stopped", model, history, best.accuracy, best.epoch, 1.0
        if not valid_e:  # no validation tracks (a final fit on everything): keep the last epoch
            history.append({"epoch": epoch + 1, "train_loss": train_loss})
            best.keep_last(model, epoch)
            continue
        ev = evaluate_embeddings(model, valid_e, valid_y, data.labels, device)
        row = {
            "epoch": epoch + 1, "train_loss": train_loss, "valid_loss": ev.loss,
            "valid_track_accuracy": ev.track_accuracy,
            "valid_segment_accuracy": ev.segment_accuracy,
            "lr": opt.lr, "seconds": time.perf_counter() - training.started,
        }  # fmt: skip
        history.append(row)
        best.offer(model, epoch, ev.track_accuracy, ev.loss)  # ties: the lower validation loss
        emit(EpochEnded.from_row(row, config.epochs, best.epoch))
    best.restore(model)
    fit_track_head(model, train_e, train_y, config)
    temperature = 1.0
    if (
        valid_e and calibrate
    ):  # calibrate on validation: the segment head in its weights, the verdict by T
        seg_logp = [s[None] for w in window_logp(model, valid_e, device) for s in w]
        seg_y = [y for w, y in zip(valid_e, valid_y, strict=True) for _ in range(len(w))]
        scale_head(model, fit_temperature(seg_logp, seg_y))
        temperature = fit_temperature(
            [z[None] for z in track_logits(model, valid_e, device)], valid_y
        )
    return "finished", model, history, best.accuracy, best.epoch, temperature


def _embed_every_track(
    config: TrainConfig,
    data: TrainData,
    model: MusicnnGenre,
    device: torch.device,
    emit: EventSink,
    stop: threading.Event | None,
) -> dict[str, np.ndarray]:
    """Every track's segment embeddings by the frozen backbone, from the cache where it has
    them: track path -> (segments, embedding size)."""
    store = EmbeddingCache(
        cache_dir() / "embeddings", model, data.features_cfg, config.eval_hop_seconds
    )
    tracks = [str(t.path) for p in ("train", "valid", "test") for t in getattr(data.split, p)]
    emit(Message("embedding every segment with the frozen backbone"))
    emit(CacheStarted(len(tracks)))
    emb = store.build(
        tracks, data.features, device,
        on_progress=lambda d, n, p: emit(CacheProgress(d, n, str(p))), stop=stop,
    )  # fmt: skip
    emit(CacheDone(len(tracks), hits=0, failed=0))
    return emb


def _train_head(
    model: MusicnnGenre,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: nn.Module,
    training: TrainEpoch,
    config: TrainConfig,
) -> float:
    """One epoch of the head over every training segment, in an order drawn from the seed;
    the mean training loss."""
    g = torch.Generator().manual_seed(config.seed * 100_003 + training.epoch)
    order = torch.randperm(len(x), generator=g).to(x.device)
    model.head.train()
    total = 0.0
    for b in training:
        idx = order[b * config.batch_size : (b + 1) * config.batch_size]
        total += training.step(loss_fn(model.head_logits(x[idx]), y[idx])) * len(idx)
    return total / len(x)


def fit_track_head(
    model: nn.Module, embeddings: list[torch.Tensor], targets: list[int], config: TrainConfig
) -> None:
    """The verdict head: multinomial logistic regression (L-BFGS, convex, so no schedule to
    tune) on each training track's standardised segment-embedding mean and spread."""
    from sklearn.linear_model import LogisticRegression

    from mgr_desktop.models.transfer import track_statistics

    stats = torch.stack([track_statistics(e.float()) for e in embeddings]).numpy()
    mean, scale = stats.mean(0), np.clip(stats.std(0), 1e-3, None)
    n = len(model.track_head.bias)  # type: ignore[union-attr]
    present = sorted(set(targets))
    clf = LogisticRegression(
        C=config.track_head_c,
        max_iter=2000,
        class_weight="balanced" if config.balance_classes else None,
    ).fit((stats - mean) / scale, targets)
    weight = np.zeros((n, stats.shape[1]), np.float32)
    bias = np.full(n, -1e4, np.float32)  # a genre with no training track is never chosen
    coef = clf.coef_ if len(present) > 2 else np.stack([-clf.coef_[0], clf.coef_[0]]) / 2
    icpt = clf.intercept_ if len(present) > 2 else np.array([-1, 1]) * clf.intercept_[0] / 2
    weight[present], bias[present] = coef, icpt
    with torch.no_grad():
        model.track_mean.copy_(torch.from_numpy(mean))  # type: ignore[operator]
        model.track_scale.copy_(torch.from_numpy(scale))  # type: ignore[operator]
        model.track_head.weight.copy_(torch.from_numpy(weight))  # type: ignore[union-attr]
        model.track_head.bias.copy_(torch.from_numpy(bias))  # type: ignore[union-attr]


def scale_head(model: nn.Module, temperature: float) -> None:
    """Fold a temperature into the segment head's last layer: logits / T, stored as weights."""
    head = model.head
    last = head[-1] if isinstance(head, nn.Sequential) else None
    if not isinstance(last, nn.Linear):
        raise TypeError(f"{type(model).__name__}: its head does not end in a linear layer")
    with torch.no_grad():
        last.weight.div_(temperature)
        if last.bias is not None:
            last.bias.div_(temperature)


def probe_report(
    model: nn.Module,
    embeddings: list[torch.Tensor],
    targets: list[int],
    labels: list[str],
    device: torch.device,
    temperature: float,
) -> dict[str, Any]:
    """The test-or-validation report: verdicts from the track head at the temperature (as
    the app gives them), segment accuracy from the segment head, and the calibration error."""
    segments = evaluate_embeddings(model, embeddings, targets, labels, device)
    probs = torch.softmax(track_logits(model, embeddings, device) / temperature, -1).numpy()
    ev = Evaluation(
        list(labels), np.asarray(targets), probs.argmax(1), segments.window_true,
        segments.window_pred, segments.loss,
    )  # fmt: skip
    return {**ev.report(), "ece": expected_calibration_error(probs, targets),
            "probabilities": probs.round(5).tolist()}  # fmt: skip


def run_probe(
    config: TrainConfig,
    data: TrainData,
    out: Path,
    emit: EventSink,
    stop: threading.Event | None,
) -> RunResult:
    """The whole frozen-backbone run: train, calibrate, save the best model, test if a test
    subset exists. Writes the same files as the full loop."""

    out.mkdir(parents=True, exist_ok=True)
    status, model, history, best_acc, best_epoch, temperature = fit_probe(
        config, data, out, emit, stop
    )
    if status != "finished":
        return RunResult(status, out, metrics_doc(history, data, None, len(history)))
    device = next(model.parameters()).device
    valid_e, valid_y = _part(data, "valid", model, device, config)
    valid = (
        probe_report(model, valid_e, valid_y, data.labels, device, temperature) if valid_e else {}
    )
    test = None
    if data.split.test:
        test_e, test_y = _part(data, "test", model, device, config)
        test = probe_report(model, test_e, test_y, data.labels, device, temperature)
    else:
        emit(Message("no test subset: the test was not measured"))
    training = {
        **run_summary(config, data), "best_epoch": best_epoch, "epochs_completed": len(history),
        "valid_track_accuracy": best_acc, "temperature": temperature,
        "valid_ece": valid.get("ece"), "frozen_backbone": True,
    }  # fmt: skip
    if test is not None:
        training.update(test_track_accuracy=test["track_accuracy"],
                        test_segment_accuracy=test["segment_accuracy"],
                        test_macro_f1=test["macro_f1"], test_ece=test["ece"])  # fmt: skip
    save_model(out / MODEL_FILE, model, ModelInfo(
        config.arch, tuple(data.labels), data.features_cfg, name=out.name, training=training,
        temperature=temperature, tags=pretrained_tags_of(model)))  # fmt: skip
    emit(CheckpointSaved("best", str(out / MODEL_FILE)))
    metrics = {**metrics_doc(history, data, test, len(history), finished=True), "valid": valid,
               "temperature": temperature}  # fmt: skip
    return finish(out, emit, metrics, test)


def _part(
    data: TrainData, name: str, model: nn.Module, device: torch.device, config: TrainConfig
) -> tuple[list[torch.Tensor], list[int]]:
    store = EmbeddingCache(
        cache_dir() / "embeddings", model, data.features_cfg, config.eval_hop_seconds
    )
    tracks = getattr(data.split, name)
    emb = store.build([str(t.path) for t in tracks], data.features, device)
    index = {lab: i for i, lab in enumerate(data.labels)}
    return [torch.from_numpy(emb[str(t.path)]) for t in tracks], [index[t.label] for t in tracks]


def pretrained_tags_of(model: nn.Module) -> tuple[str, ...]:
    from mgr_desktop.models.musicnn import pretrained_tags

    names = getattr(model, "backbone_names", ())
    return tuple(pretrained_tags(names[0])) if names else ()
