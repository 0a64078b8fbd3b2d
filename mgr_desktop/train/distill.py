"""Distil a pretrained teacher (a musicnn genre model) into a compact student CNN.

The teacher labels fixed 3 s segment positions of every training track and of unlabelled songs
once (its calibrated segment head, optionally softened by a distillation temperature τ); the
student then learns from those soft targets on augmented views of the same segments: small
time shifts around each position, a random gain, and the loop's time and frequency masks.

    loss = τ² · KL(teacher_τ ‖ student_τ)  +  α · CE(student, true genre)   (CE: labelled only)

The same lifecycle as the full network (`train.lifecycle`): AdamW, OneCycle, clipping,
`EpochStarted` / `BatchProgress` / `EpochEnded` / `FitFinished`, stop within one batch, the
best epoch on validation kept and a temperature fitted there, then the test. This module
supplies the batches and the loss. There is no resume: a stopped run starts again. Without
validation tracks the last epoch is kept.

The teacher's outputs come from `train.distill_targets`: its backbone embeddings are cached
per track under the user cache folder (the same `EmbeddingCache` the probe uses, so a probe's
embeddings are reused); any other teacher is run once, in memory.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mgr_desktop.config import FeatureConfig
from mgr_desktop.device import pick_device
from mgr_desktop.dsp.mel import compress, normalise
from mgr_desktop.models.checkpoint import ModelInfo, save_model
from mgr_desktop.models.registry import get_architecture
from mgr_desktop.train.augment import make_batch, plan_epoch
from mgr_desktop.train.class_weights import class_weights
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.distill_targets import (
    SoftSegments,
    soft_segments,
    teacher_logits,
    unique_audio_files,
)
from mgr_desktop.train.events import (
    CheckpointSaved,
    EpochEnded,
    EventSink,
    Message,
    RunStopped,
    ignore,
)
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
from mgr_desktop.train.runs import MODEL_FILE, RunResult, metrics_doc, run_summary

__all__ = ["DistillConfig", "SoftSegments", "apply_gain", "distill_loss", "fit_distilled",
           "soft_segments", "teacher_logits", "unique_audio_files"]  # fmt: skip


@dataclass(frozen=True)
class DistillConfig:
    temperature: float = 2.0  # τ: softens teacher and student alike; the loss is scaled by τ²
    alpha: float = 0.5  # weight of the cross-entropy on labelled segments' true genres
    hop_seconds: float = 3.0  # teacher positions on every track (3 s: the probe's cached hop)
    shift_seconds: float = 0.75  # the student's crop moves up to this far around a position
    max_segments_per_song: int = 40  # unlabelled songs: at most this many positions, spread out
    gain_db: float = 6.0  # random gain, uniform in ±gain_db, applied to the mel power

    def __post_init__(self) -> None:
        if not 0.1 <= self.temperature <= 20:
            raise ValueError("distillation temperature must be in [0.1, 20]")
        if self.alpha < 0:
            raise ValueError("alpha must be >= 0")
        if self.hop_seconds <= 0 or self.shift_seconds < 0 or self.gain_db < 0:
            raise ValueError("hop must be > 0; shift and gain >= 0")
        if self.max_segments_per_song < 1:
            raise ValueError("max_segments_per_song must be at least 1")


def apply_gain(x: torch.Tensor, cfg: FeatureConfig, gain_db: torch.Tensor) -> torch.Tensor:
    """Features (b, n_mels, frames) as if the audio had been `gain_db` (b,) louder: exact for
    both compressions (mel power scales by 10^(dB/10)); padding and masks stay silent."""
    g = gain_db.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
    if cfg.compression == "log10_1p":  # back to mel power, louder, and compressed again
        power = (torch.pow(10.0, x) - 1.0).clamp_min(0.0) / cfg.log_gain
        return compress(power * torch.pow(10.0, g / 10.0), cfg)
    return (x + g).clamp(cfg.db_floor, cfg.db_ceiling)


def distill_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    temperature: float,
    alpha: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, soft-target part, hard-label part): weighted means over the batch; the hard
    part over its labelled segments only (0 when there are none)."""
    tau = temperature
    p_teacher = F.softmax(teacher_logits / tau, -1)
    logp_student = F.log_softmax(student_logits / tau, -1)
    kl = (p_teacher * (torch.log(p_teacher.clamp_min(1e-12)) - logp_student)).sum(-1)
    soft = (weights * kl).sum() / weights.sum() * tau * tau
    known = labels >= 0
    if known.any():
        ce = F.cross_entropy(student_logits[known], labels[known], reduction="none")
        hard = (weights[known] * ce).sum() / weights[known].sum()
    else:
        hard = student_logits.new_zeros(())
    return soft + alpha * hard, soft, hard


@dataclass
class _Student:
    """What the student's epochs share, and the best epoch so far (validation accuracy, then
    the lower loss; without validation, the last)."""

    config: TrainConfig
    distill: DistillConfig
    data: TrainData
    segs: SoftSegments
    weights: torch.Tensor  # per segment: its genre's class weight (1 for unlabelled)
    model: nn.Module
    opt: Optimiser
    device: torch.device
    emit: EventSink
    stop: threading.Event | None
    best: BestEpoch = field(default_factory=BestEpoch)


def fit_distilled(
    config: TrainConfig,
    teacher: nn.Module,
    labelled: TrainData,
    unlabelled: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    on_event: EventSink | None = None,
    stop: threading.Event | None = None,
    distill: DistillConfig | None = None,
    temperature: float | None = None,
    teacher_name: str = "",
) -> RunResult:
    """Train `config.arch` (a student whose features are `labelled.features_cfg`) on the
    teacher's soft targets for `labelled.split.train` and the `unlabelled` audio files.

    `temperature`: the calibration temperature to store when there are no validation tracks
    (for example one fitted on validation in a held-out run of the same recipe)."""
    emit = on_event or ignore
    distill = distill or DistillConfig()
    arch = get_architecture(config.arch)
    if arch.features != labelled.features_cfg:
        raise ValueError(f"architecture {config.arch} takes other features than the data's")
    if arch.transfer:
        raise ValueError("the student must be an architecture trained from scratch")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    student = _set_up(config, teacher, labelled, unlabelled, distill, emit, stop)
    history: list[dict[str, Any]] = []
    for epoch in range(config.epochs):
        row = _train_epoch(student, epoch)
        if row is None:
            return RunResult("stopped", out, metrics_doc(history, labelled, None, epoch))
        _validate(student, epoch, row)
        # JSON has no NaN: the history says null where there was nothing to validate on.
        history.append({k: None if v != v else v for k, v in row.items()})
        emit(EpochEnded.from_row(row, config.epochs, student.best.epoch))
    return _finish(student, out, history, temperature, teacher_name)


def _set_up(
    config: TrainConfig,
    teacher: nn.Module,
    labelled: TrainData,
    unlabelled: Sequence[str | os.PathLike[str]],
    distill: DistillConfig,
    emit: EventSink,
    stop: threading.Event | None,
) -> _Student:
    device = pick_device(config.device)
    labels = labelled.labels
    teacher.to(device)
    segs = soft_segments(teacher, labelled, unlabelled, distill, device, emit, stop)
    if segs.logits.shape[1] != len(labels):
        raise ValueError(
            f"the teacher gives {segs.logits.shape[1]} scores for {len(labels)} labels"
        )
    emit(
        Message(
            f"{segs.n_labelled} labelled segments of {segs.n_labelled_tracks} tracks, "
            f"{segs.n_unlabelled} unlabelled segments of {segs.n_unlabelled_files} songs"
        )
    )
    known = segs.labels >= 0
    weights = torch.ones(len(segs.labels))
    cw = class_weights(segs.labels[known], len(labels), config)
    weights[known] = cw[segs.labels[known]]

    model = build_seeded(config, len(labels), device)
    n = len(segs.windows) * config.crops_per_track
    opt = Optimiser.for_run(model.parameters(), config, math.ceil(n / config.batch_size))
    return _Student(config, distill, labelled, segs, weights, model, opt, device, emit, stop)


def _train_epoch(s: _Student, epoch: int) -> dict[str, Any] | None:
    """One epoch over every segment; its history row (validation still to fill in), or None
    when stopped."""
    config, cfg = s.config, s.data.features_cfg
    plan = plan_epoch(config, len(s.segs.windows), epoch)
    batches = plan.batches(config.batch_size)
    g = torch.Generator().manual_seed(config.seed * 100_003 + epoch * 1009)
    gains = (torch.rand(len(plan.order), generator=g) * 2 - 1) * s.distill.gain_db
    s.model.train()
    training = TrainEpoch(s.opt, epoch, len(batches), config.epochs, s.emit, s.stop)
    sums = np.zeros(3)
    for b in training:
        idx = batches[b]
        x = make_batch(s.segs.windows, plan, idx, cfg.segment_frames, cfg.floor_value)
        x = normalise(apply_gain(x, cfg, gains[idx]), cfg).unsqueeze(1).to(s.device)
        loss, soft, hard = _losses(s, x, torch.from_numpy(plan.order[idx]))
        losses = [training.step(loss), float(soft.detach()), float(hard.detach())]
        sums += np.array(losses) * len(idx)
    if training.stopped_at is not None:
        s.emit(RunStopped(epoch, training.stopped_at))
        return None
    mean = sums / len(plan.order)
    return {
        "epoch": epoch + 1, "train_loss": float(mean[0]), "train_soft_loss": float(mean[1]),
        "train_hard_loss": float(mean[2]), "valid_loss": math.nan,
        "valid_track_accuracy": math.nan, "valid_segment_accuracy": math.nan,
        "lr": s.opt.lr, "seconds": time.perf_counter() - training.started,
    }  # fmt: skip


def _losses(
    s: _Student, x: torch.Tensor, seg: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of segments `seg`: (total, soft, hard) losses, as `distill_loss`."""
    segs, device = s.segs, s.device
    return distill_loss(
        s.model(x).float(), segs.logits[seg].to(device), segs.labels[seg].to(device),
        s.weights[seg].to(device), s.distill.temperature, s.distill.alpha,
    )  # fmt: skip


def _validate(s: _Student, epoch: int, row: dict[str, Any]) -> None:
    """Fill in the row's validation scores and keep the best epoch; without validation tracks
    the last epoch is the one kept."""
    if not s.data.split.valid:
        s.best.keep_last(s.model, epoch)
        return
    ev = evaluate_part(s.model, s.data, s.config, s.device, "valid")
    row.update(valid_loss=ev.loss, valid_track_accuracy=ev.track_accuracy,
               valid_segment_accuracy=ev.segment_accuracy)  # fmt: skip
    s.best.offer(s.model, epoch, ev.track_accuracy, ev.loss)


def _finish(
    s: _Student,
    out: Path,
    history: list[dict[str, Any]],
    temperature: float | None,
    teacher_name: str,
) -> RunResult:
    """The best weights, calibrated and tested (`lifecycle.calibrate_and_test`), saved."""
    config, data, model = s.config, s.data, s.model
    s.best.restore(model)  # (without validation: the last epoch's, which it already has)
    temperature, report = calibrate_and_test(model, data, config, s.device, s.emit,
                                             temperature=temperature)  # fmt: skip
    segs = s.segs
    distilled = {
        "teacher": teacher_name, **asdict(s.distill),
        "labelled_tracks": segs.n_labelled_tracks, "labelled_segments": segs.n_labelled,
        "unlabelled_files": segs.n_unlabelled_files, "unlabelled_segments": segs.n_unlabelled,
    }  # fmt: skip
    training = {**run_summary(config, data), "best_epoch": s.best.epoch,
                "epochs_completed": len(history),
                "valid_track_accuracy": s.best.accuracy if data.split.valid else None,
                "temperature": temperature, "distillation": distilled}  # fmt: skip
    if report is not None:
        training.update(test_track_accuracy=report["track_accuracy"],
                        test_segment_accuracy=report["segment_accuracy"])  # fmt: skip
    save_model(out / MODEL_FILE, model, ModelInfo(
        config.arch, tuple(data.labels), data.features_cfg, name=out.name, temperature=temperature,
        training=training))  # fmt: skip
    s.emit(CheckpointSaved("best", str(out / MODEL_FILE)))
    metrics = {**metrics_doc(history, data, report, len(history), finished=True),
               "temperature": temperature, "distillation": distilled}  # fmt: skip
    return finish(out, s.emit, metrics, report)
