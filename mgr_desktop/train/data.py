"""From a dataset folder to what the loop needs: labels, a split by track, cached features."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from mgr_desktop.config import FeatureConfig
from mgr_desktop.paths import cache_dir
from mgr_desktop.train.cache import FeatureCache
from mgr_desktop.train.dataset_tracks import DatasetError, DatasetReport, Track, discover
from mgr_desktop.train.events import (
    CacheDone,
    CacheProgress,
    CacheStarted,
    DatasetFound,
    EventSink,
    Message,
    ignore,
)
from mgr_desktop.train.splits import (
    Split,
    fault_filtered_split,
    group_kfold,
    group_split,
    kfold_splits,
    random_split,
)
from mgr_desktop.train.tag_dataset import TagDatasetReport, TagRules, discover_tagged

__all__ = ["EventSink", "TrainData", "make_splits", "prepare"]


@dataclass
class TrainData:
    labels: list[str]
    features_cfg: FeatureConfig
    split: Split
    features: dict[str, np.ndarray]  # track path -> float16 dB (n_mels, frames)
    root: str
    report: DatasetReport | None = None

    def arrays(self, part: str) -> tuple[list[np.ndarray], list[int]]:
        tracks: list[Track] = getattr(self.split, part)
        index = {lab: i for i, lab in enumerate(self.labels)}
        return [self.features[str(t.path)] for t in tracks], [index[t.label] for t in tracks]


def make_splits(report: DatasetReport, split: str, seed: int, folds: int = 5) -> list[Split]:
    """Splits by track; for a library labelled by its tags, by artist."""
    if isinstance(report, TagDatasetReport):
        return _artist_splits(report, split, seed, folds)
    if split == "random":
        return [random_split(report.tracks, seed)]
    if split == "fault-filtered":
        return [fault_filtered_split(report.tracks)]
    if split == "kfold":
        return kfold_splits(report.tracks, folds, seed)
    raise ValueError(f"unknown split {split!r} (random, fault-filtered, kfold)")


def _artist_splits(report: TagDatasetReport, split: str, seed: int, folds: int) -> list[Split]:
    if split == "random":
        parts = group_split(report.tracks, report.groups, seed)
        if not parts.valid:
            raise DatasetError(
                "no genre has tracks by two artists: a split by artist needs one to validate on"
            )
        return [parts]
    if split == "kfold":
        return group_kfold(report.tracks, report.groups, folds, seed)
    if split == "fault-filtered":
        raise DatasetError(
            "the fault-filtered split is GTZAN's; with labels from tags use --split random or "
            "kfold (both by artist)"
        )
    raise ValueError(f"unknown split {split!r} (random, kfold)")


def prepare(
    root: str | os.PathLike[str],
    split: str = "random",
    seed: int = 0,
    folds: int = 5,
    cache: str | os.PathLike[str] | None = None,
    features_cfg: FeatureConfig | None = None,
    on_event: EventSink | None = None,
    stop: threading.Event | None = None,
    tags: TagRules | None = None,
) -> list[TrainData]:
    """Discover, split by track, and cache features (one TrainData per fold). With `tags`,
    `root` is any music library labelled by its files' genre tags (`tag_dataset`), split by
    artist."""
    emit = on_event or ignore
    cfg = features_cfg or FeatureConfig()
    report = discover(root) if tags is None else discover_tagged(root, tags)
    emit(DatasetFound(report.summary(), report.to_json()))
    splits = make_splits(report, split, seed, folds)
    needed = sorted({t.path for s in splits for t in (*s.train, *s.valid, *s.test)}, key=str)
    store = FeatureCache(cache or cache_dir() / "features", cfg)
    emit(CacheStarted(len(needed)))
    built = store.build(
        needed,
        on_progress=lambda done, total, path: emit(CacheProgress(done, total, str(path))),
        stop=stop,
    )  # fmt: skip
    for path, reason in built.failures:
        emit(Message(f"skipped {path}: {reason}"))
    emit(CacheDone(len(needed), built.hits, len(built.failures)))
    ok = set(built.features)
    out = []
    for s in splits:
        kept = Split(*[[t for t in getattr(s, p) if str(t.path) in ok]
                       for p in ("train", "valid", "test")], name=s.name)  # fmt: skip
        if not kept.train or not kept.valid or (s.test and not kept.test):
            raise DatasetError(f"{root}: too few readable tracks for a train/valid/test split")
        out.append(TrainData(report.labels, cfg, kept, built.features, str(report.root), report))
    return out
