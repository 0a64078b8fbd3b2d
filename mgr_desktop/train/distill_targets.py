"""What the teacher says, once, before the student trains: its segment logits at fixed
positions of every labelled track and of unlabelled songs (`soft_segments`), with the
student's views around each position. Used by `train.distill`."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel import cut_segments, normalise, segment_starts
from mgr_desktop.paths import cache_dir
from mgr_desktop.train.cache import FeatureCache
from mgr_desktop.train.data import TrainData
from mgr_desktop.train.events import CacheDone, CacheProgress, CacheStarted, EventSink, Message

if TYPE_CHECKING:
    from mgr_desktop.train.distill import DistillConfig


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
    from mgr_desktop.models.transfer import MusicnnGenre

    if isinstance(teacher, MusicnnGenre):  # the embedding cache reads its backbones
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
                windows, _ = cut_segments(feats, cfg, hop_seconds)
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
