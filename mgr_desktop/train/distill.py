"""Distil a pretrained teacher (a musicnn genre model) into a compact student CNN.

The teacher labels fixed 3 s segment positions of every training track and of unlabelled songs
once (its calibrated segment head, optionally softened by a distillation temperature τ); the
student then learns from those soft targets on augmented views of the same segments: small
time shifts around each position, a random gain, and the loop's time and frequency masks.

    loss = τ² · KL(teacher_τ ‖ student_τ)  +  α · CE(student, true genre)   (CE: labelled only)

Same optimiser, schedule, clipping and events as the one loop (`train.loop.fit`): AdamW,
OneCycle, `epoch_start` / `batch` / `epoch_end` / `done`, stop within one batch. There is no
resume: a stopped run starts again. With validation tracks the best epoch on validation is
kept and a temperature is fitted there, as in the loop; without them the last epoch is kept.

The teacher's backbone embeddings are cached per track under the user cache folder (the same
`EmbeddingCache` the probe uses, so a probe's embeddings are reused); any other teacher is run
once, in memory.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mgr_desktop.config import FeatureConfig
from mgr_desktop.device import pick_device
from mgr_desktop.dsp.mel import frame_windows, normalise, segment_starts
from mgr_desktop.models.checkpoint import ModelInfo, save_model
from mgr_desktop.models.registry import build_model, get_architecture
from mgr_desktop.paths import cache_dir
from mgr_desktop.train.augment import make_batch, plan_epoch
from mgr_desktop.train.cache import FeatureCache
from mgr_desktop.train.calibrate import fit_temperature
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.distributed import Dist
from mgr_desktop.train.evaluation import evaluate, window_logp_per_track
from mgr_desktop.train.events import (
    BatchProgress,
    CacheDone,
    CacheProgress,
    CacheStarted,
    CheckpointSaved,
    EpochEnded,
    EpochStarted,
    EventSink,
    FitFinished,
    Message,
    RunStopped,
    TestMeasured,
    ignore,
)
from mgr_desktop.train.loop import RunResult
from mgr_desktop.train.probe import class_weights
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.runs import MODEL_FILE, metrics_doc, run_summary, write_metrics


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


@dataclass
class SoftSegments:
    """The student's training material: one entry per teacher position."""

    windows: list[np.ndarray]  # (n_mels, width + up to 2·shift) views around each position
    logits: torch.Tensor  # (n, classes) teacher segment logits (calibrated, before τ)
    labels: torch.Tensor  # (n,) true genre index, or -1 for unlabelled audio
    n_labelled_tracks: int
    n_unlabelled_files: int

    @property
    def n_labelled(self) -> int:
        return int((self.labels >= 0).sum())

    @property
    def n_unlabelled(self) -> int:
        return int((self.labels < 0).sum())


def apply_gain(x: torch.Tensor, cfg: FeatureConfig, gain_db: torch.Tensor) -> torch.Tensor:
    """Features (b, n_mels, frames) as if the audio had been `gain_db` (b,) louder: exact for
    both compressions (mel power scales by 10^(dB/10)); padding and masks stay silent."""
    g = gain_db.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
    if cfg.compression == "log10_1p":
        scaled = (torch.pow(10.0, x) - 1.0).clamp_min(0.0) * torch.pow(10.0, g / 10.0)
        return torch.log10(1.0 + scaled)
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


def unique_audio_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Existing files, each once: the same file under two names (links, or the identical copies
    Debian ships per language) counts once. Identity: size and a digest of the first MiB."""
    seen: set[tuple[int, str]] = set()
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                digest = hashlib.blake2b(f.read(1 << 20), digest_size=16).hexdigest()
        except OSError:
            continue
        if (size, digest) not in seen:
            seen.add((size, digest))
            out.append(path)
    return out


def _spread(n: int, cap: int) -> np.ndarray:
    """At most `cap` of n positions, evenly spread over the song."""
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(np.int64))


def teacher_logits(
    teacher: nn.Module,
    tracks: Sequence[str],
    features: dict[str, np.ndarray],
    cfg: FeatureConfig,
    hop_seconds: float,
    device: torch.device,
    emit: EventSink,
    stop: threading.Event | None = None,
    batch: int = 64,
) -> dict[str, torch.Tensor]:
    """Each track's (positions, classes) teacher segment logits at `segment_starts(hop)`.

    A musicnn teacher's embeddings come from (and go to) the user cache; its segment head then
    costs nothing. Other teachers run on every window, kept in memory."""
    teacher.eval()
    emit(CacheStarted(len(tracks)))
    progress = lambda d, n, p: emit(CacheProgress(d, n, str(p)))  # noqa: E731
    out: dict[str, torch.Tensor] = {}
    if hasattr(teacher, "backbones") and hasattr(teacher, "head_logits"):
        from mgr_desktop.train.embeddings import EmbeddingCache

        store = EmbeddingCache(cache_dir() / "embeddings", teacher, cfg, hop_seconds)
        emb = store.build(list(tracks), features, device, on_progress=progress, stop=stop)
        with torch.inference_mode():
            for t in tracks:
                e = torch.from_numpy(emb[t]).to(device)
                out[t] = teacher.head_logits(e).float().cpu()  # type: ignore[operator]
    else:
        from mgr_desktop.train.cache import Stopped

        with torch.inference_mode():
            for done, t in enumerate(tracks, 1):
                if stop is not None and stop.is_set():
                    raise Stopped()
                feats = torch.from_numpy(np.asarray(features[t], np.float32))
                windows, _ = frame_windows(feats, cfg, hop_seconds)
                parts = [
                    teacher(normalise(windows[i : i + batch], cfg).unsqueeze(1).to(device))
                    for i in range(0, len(windows), batch)
                ]
                out[t] = torch.cat(parts).float().cpu()
                progress(done, len(tracks), t)
    emit(CacheDone(len(tracks), hits=0, failed=0))
    return out


def soft_segments(
    teacher: nn.Module,
    labelled: TrainData,
    unlabelled: Sequence[str | os.PathLike[str]],
    distill: DistillConfig,
    device: torch.device,
    emit: EventSink,
    stop: threading.Event | None = None,
) -> SoftSegments:
    """Teacher targets on the labelled training tracks (every position) and on the unlabelled
    songs (at most `max_segments_per_song` positions each, spread over the song)."""
    cfg = labelled.features_cfg
    width = cfg.segment_frames
    shift = cfg.seconds_to_frames(distill.shift_seconds) if distill.shift_seconds > 0 else 0
    index = {lab: i for i, lab in enumerate(labelled.labels)}
    train = [(str(t.path), index[t.label]) for t in labelled.split.train]
    known = {os.path.realpath(p) for p, _ in train}
    files = [p for p in unique_audio_files(unlabelled) if os.path.realpath(p) not in known]
    features = dict(labelled.features)
    n_files = 0
    if files:
        emit(Message(f"decoding {len(files)} unlabelled songs"))
        built = FeatureCache(cache_dir() / "features", cfg).build(files, stop=stop)
        for path, reason in built.failures:
            emit(Message(f"skipped {path}: {reason}"))
        features.update(built.features)
        files = [p for p in files if str(p) in built.features]
        n_files = len(files)
    emit(Message("the teacher labels every segment"))
    tracks = [p for p, _ in train] + [str(p) for p in files]
    logits = teacher_logits(teacher, tracks, features, cfg, distill.hop_seconds, device, emit, stop)
    windows: list[np.ndarray] = []
    targets: list[torch.Tensor] = []
    labels: list[int] = []
    for track, label in [*train, *((str(p), -1) for p in files)]:
        feats = features[track]
        starts = segment_starts(feats.shape[-1], cfg, distill.hop_seconds)
        z = logits[track]
        if len(starts) != len(z):
            raise RuntimeError(f"{track}: {len(z)} teacher outputs for {len(starts)} positions")
        keep = (
            np.arange(len(starts))
            if label >= 0
            else _spread(len(starts), distill.max_segments_per_song)
        )
        for i in keep:
            s = starts[i]
            windows.append(feats[:, max(0, s - shift) : s + width + shift])
            labels.append(label)
        targets.append(z[torch.from_numpy(keep)])
    return SoftSegments(
        windows, torch.cat(targets), torch.tensor(labels, dtype=torch.int64), len(train), n_files
    )


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
    cfg = labelled.features_cfg
    arch = get_architecture(config.arch)
    if arch.features != cfg:
        raise ValueError(f"architecture {config.arch} takes other features than the data's")
    if arch.transfer:
        raise ValueError("the student must be an architecture trained from scratch")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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

    torch.manual_seed(config.seed)
    model = build_model(config.arch, len(labels)).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.peak_lr, weight_decay=config.weight_decay
    )
    n = len(segs.windows) * config.crops_per_track
    steps = math.ceil(n / config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.peak_lr, total_steps=config.epochs * steps
    )
    valid_x, valid_y = labelled.arrays("valid")
    width = cfg.segment_frames
    history: list[dict[str, Any]] = []
    best_key, best_epoch, best_state = (-1.0, -math.inf), 0, None
    for epoch in range(config.epochs):
        plan = plan_epoch(config, len(segs.windows), epoch)
        batches = plan.batches(config.batch_size)
        g = torch.Generator().manual_seed(config.seed * 100_003 + epoch * 1009)
        gains = (torch.rand(len(plan.order), generator=g) * 2 - 1) * distill.gain_db
        emit(EpochStarted(epoch, config.epochs, len(batches)))
        model.train()
        t0 = time.perf_counter()
        sums = np.zeros(3)
        for b, idx in enumerate(batches):
            if stop is not None and stop.is_set():
                emit(RunStopped(epoch, b))
                return RunResult("stopped", out, metrics_doc(history, labelled, None, epoch))
            x = make_batch(segs.windows, plan, idx, width, cfg.floor_value)
            x = normalise(apply_gain(x, cfg, gains[idx]), cfg).unsqueeze(1).to(device)
            seg = torch.from_numpy(plan.order[idx])
            loss, soft, hard = distill_loss(
                model(x).float(), segs.logits[seg].to(device), segs.labels[seg].to(device),
                weights[seg].to(device), distill.temperature, distill.alpha,
            )  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            lr = scheduler.get_last_lr()[0]
            loss.backward()
            if config.clip_value is not None:
                nn.utils.clip_grad_value_(model.parameters(), config.clip_value)
            elif config.clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
            optimizer.step()
            scheduler.step()
            sums += np.array([float(v.detach()) for v in (loss, soft, hard)]) * len(idx)
            emit(BatchProgress(epoch, b, len(batches), float(loss.detach()), lr,
                               time.perf_counter() - t0))  # fmt: skip
        mean = sums / len(plan.order)
        row: dict[str, Any] = {
            "epoch": epoch + 1, "train_loss": float(mean[0]), "train_soft_loss": float(mean[1]),
            "train_hard_loss": float(mean[2]), "valid_loss": math.nan,
            "valid_track_accuracy": math.nan, "valid_segment_accuracy": math.nan,
            "lr": scheduler.get_last_lr()[0], "seconds": time.perf_counter() - t0,
        }  # fmt: skip
        if valid_x:
            ev = evaluate(model, valid_x, valid_y, labels, cfg, device, config.eval_hop_seconds)
            row.update(valid_loss=ev.loss, valid_track_accuracy=ev.track_accuracy,
                       valid_segment_accuracy=ev.segment_accuracy)  # fmt: skip
            if (ev.track_accuracy, -ev.loss) > best_key:
                best_key = (ev.track_accuracy, -ev.loss)
                best_epoch = epoch + 1
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            best_epoch = epoch + 1
        # JSON has no NaN: the history says null where there was nothing to validate on.
        history.append({k: None if v != v else v for k, v in row.items()})
        emit(EpochEnded.from_row(row, config.epochs, best_epoch))
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if valid_x:  # calibrate on validation, as the loop does
        temperature = fit_temperature(
            window_logp_per_track(
                model, valid_x, valid_y, labels, cfg, device, config.eval_hop_seconds, Dist()
            ),
            valid_y,
        )
    temperature = 1.0 if temperature is None else temperature
    test_x, test_y = labelled.arrays("test")
    report = None
    if test_x:
        test = evaluate(model, test_x, test_y, labels, cfg, device, config.eval_hop_seconds,
                        temperature=temperature)  # fmt: skip
        report = test.report()
    else:
        emit(Message("no test subset: the test was not measured"))
    distilled = {
        "teacher": teacher_name, **asdict(distill),
        "labelled_tracks": segs.n_labelled_tracks, "labelled_segments": segs.n_labelled,
        "unlabelled_files": segs.n_unlabelled_files, "unlabelled_segments": segs.n_unlabelled,
    }  # fmt: skip
    valid_acc = best_key[0] if valid_x else None
    training = {**run_summary(config, labelled), "best_epoch": best_epoch,
                "epochs_completed": len(history), "valid_track_accuracy": valid_acc,
                "temperature": temperature, "distillation": distilled}  # fmt: skip
    if report is not None:
        training.update(test_track_accuracy=report["track_accuracy"],
                        test_segment_accuracy=report["segment_accuracy"])  # fmt: skip
    save_model(out / MODEL_FILE, model, ModelInfo(
        config.arch, tuple(labels), cfg, name=out.name, temperature=temperature,
        training=training))  # fmt: skip
    emit(CheckpointSaved("best", str(out / MODEL_FILE)))
    metrics = {**metrics_doc(history, labelled, report, len(history), finished=True),
               "temperature": temperature, "distillation": distilled}  # fmt: skip
    write_metrics(out, metrics)
    if report is not None:
        emit(TestMeasured(report))
    emit(FitFinished(str(out), str(out / MODEL_FILE)))
    return RunResult("finished", out, metrics)
