"""Train/valid/test splits, always by track: no window of a held-out track is ever trained on.
Tag-labelled libraries split by artist (`group_split`, `group_kfold`): no artist of a held-out
track is ever trained on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np

from mgr_desktop.train.dataset_tracks import DatasetError, Track

SPLITS = ("random", "fault-filtered", "kfold")


@dataclass(frozen=True)
class Split:
    train: list[Track]
    valid: list[Track]
    test: list[Track]
    name: str = "random"

    def to_json(self) -> dict[str, list[str]]:
        return {k: [str(t.path) for t in getattr(self, k)] for k in ("train", "valid", "test")}

    def check_disjoint(self) -> None:
        seen: dict[str, str] = {}
        for part in ("train", "valid", "test"):
            for t in getattr(self, part):
                if str(t.path) in seen:
                    raise AssertionError(f"{t.path} in both {seen[str(t.path)]} and {part}")
                seen[str(t.path)] = part


def _by_label(tracks: list[Track]) -> dict[str, list[Track]]:
    groups: dict[str, list[Track]] = defaultdict(list)
    for t in tracks:
        groups[t.label].append(t)
    return groups


def random_split(
    tracks: list[Track], seed: int = 0, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> Split:
    """Stratified: each genre is split in the same proportions, seeded."""
    rng = np.random.default_rng(seed)
    parts: tuple[list[Track], list[Track], list[Track]] = ([], [], [])
    for label, group in sorted(_by_label(tracks).items()):
        if len(group) < 3:
            raise DatasetError(f"genre {label!r} has {len(group)} tracks; a split needs at least 3")
        order = [group[i] for i in rng.permutation(len(group))]
        n_valid = max(1, round(fractions[1] * len(group)))
        n_test = max(1, round(fractions[2] * len(group)))
        n_train = len(group) - n_valid - n_test
        parts[0].extend(order[:n_train])
        parts[1].extend(order[n_train : n_train + n_valid])
        parts[2].extend(order[n_train + n_valid :])
    return Split(*parts, name="random")


def kfold_splits(tracks: list[Track], k: int = 5, seed: int = 0) -> list[Split]:
    """k stratified folds; fold i tests on part i, validates on part i+1, trains on the rest."""
    if k < 3:
        raise ValueError("k-fold needs k >= 3 (one part each for test and validation)")
    rng = np.random.default_rng(seed)
    folds: list[list[Track]] = [[] for _ in range(k)]
    for label, group in sorted(_by_label(tracks).items()):
        if len(group) < k:
            raise DatasetError(f"genre {label!r} has {len(group)} tracks; {k} folds need {k}")
        for j, i in enumerate(rng.permutation(len(group))):
            folds[j % k].append(group[i])
    return rotate(folds, "kfold")


def group_split(
    tracks: list[Track],
    group_of: dict[str, str],
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> Split:
    """Train/valid/test by group (an artist, or an album folder): all of a group's tracks go to
    one part, whatever their genres. Stratified per genre over its groups: one group of each
    genre trains, one validates when it has two, one tests when it has three (as far as groups
    with tracks of several genres, placed by another genre first, allow)."""
    parts = _group_parts(tracks, group_of, seed, lambda n: _part_sizes(n, fractions))
    return Split(*parts, name="by-artist")


def group_kfold(
    tracks: list[Track], group_of: dict[str, str], k: int = 5, seed: int = 0
) -> list[Split]:
    """k folds of groups (as `kfold_splits`: fold i tests on part i, validates on part i+1)."""
    if k < 3:
        raise ValueError("k-fold needs k >= 3 (one part each for test and validation)")
    if len(set(group_of[str(t.path)] for t in tracks)) < k:
        raise DatasetError(f"{k} folds by artist need at least {k} artists")
    folds = _group_parts(tracks, group_of, seed, lambda n: [n // k + (i < n % k) for i in range(k)])
    return rotate(folds, "by-artist-kfold")


def _part_sizes(n: int, fractions: tuple[float, float, float]) -> list[int]:
    """How many of a genre's n groups each part wants: train first, then valid, then test."""
    n_valid = max(1, round(fractions[1] * n)) if n >= 2 else 0
    n_test = max(1, round(fractions[2] * n)) if n >= 3 and fractions[2] > 0 else 0
    return [n - n_valid - n_test, n_valid, n_test]


def _group_parts(
    tracks: list[Track],
    group_of: dict[str, str],
    seed: int,
    sizes: Callable[[int], list[int]],
) -> list[list[Track]]:
    """Each group to one part. Genres with the fewest groups choose first; each genre's groups
    not yet placed (seeded order) go to the part furthest below the genre's wanted count (ties
    to the earlier part), counting its groups that other genres already placed."""
    rng = np.random.default_rng(seed)
    groups: dict[str, set[str]] = defaultdict(set)
    for t in tracks:
        groups[t.label].add(group_of[str(t.path)])
    placed: dict[str, int] = {}
    for label in sorted(groups, key=lambda lab: (len(groups[lab]), lab)):
        mine = sorted(groups[label])
        want = sizes(len(mine))
        have = [0] * len(want)
        for g in mine:
            if g in placed:
                have[placed[g]] += 1
        free = [g for g in mine if g not in placed]
        for i in rng.permutation(len(free)):
            deficit = [w - h for w, h in zip(want, have, strict=True)]
            part = deficit.index(max(deficit))
            placed[free[i]] = part
            have[part] += 1
    n_parts = len(sizes(1))
    out: list[list[Track]] = [[] for _ in range(n_parts)]
    for t in tracks:
        out[placed[group_of[str(t.path)]]].append(t)
    return out


def published_lists(name: str = "fault-filtered") -> dict[str, list[str]]:
    """The split lists shipped with the app, as file stems per subset."""
    base = resources.files("mgr_desktop") / "data" / "splits" / name
    out = {}
    for part in ("train", "valid", "test"):
        lines = (base / f"{part}.txt").read_text(encoding="utf-8").split()
        out[part] = [line.rsplit("/", 1)[-1].rsplit(".", 1)[0] for line in lines]
    return out


def fault_filtered_split(tracks: list[Track]) -> Split:
    """Kereliuk et al.'s artist- and fault-filtered GTZAN split, matched by file stem; tracks
    not in the lists (the filtered-out faults) are left out."""
    lists = published_lists("fault-filtered")
    by_stem = {t.stem: t for t in tracks}
    parts = {}
    missing: list[str] = []
    for part, stems in lists.items():
        parts[part] = [by_stem[s] for s in stems if s in by_stem]
        missing += [s for s in stems if s not in by_stem]
    if not any(parts.values()):
        raise DatasetError(
            "none of the fault-filtered split's tracks are in this folder; it needs GTZAN's file "
            "names (blues.00029.wav, ...). Use --split random for other data."
        )
    if not parts["train"] or not parts["valid"]:
        empty = "train" if not parts["train"] else "valid"
        raise DatasetError(f"the fault-filtered split's {empty} subset is empty for this folder")
    # An empty test subset is allowed: a copy without the held-out tracks trains and selects on
    # train/valid, and the run says the test was not measured.
    split = Split(parts["train"], parts["valid"], parts["test"], name="fault-filtered")
    if missing:
        import logging

        logging.getLogger(__name__).warning(
            "fault-filtered split: %d listed tracks are missing from this folder (e.g. %s)",
            len(missing), ", ".join(missing[:3]),
        )  # fmt: skip
    return split


def rotate(folds: list[list[Track]], name: str) -> list[Split]:
    """k parts -> k splits: split i tests on part i, validates on part i+1, trains on the rest."""
    k = len(folds)
    return [
        Split(
            train=[t for j in range(k) if j not in (i, (i + 1) % k) for t in folds[j]],
            valid=folds[(i + 1) % k],
            test=folds[i],
            name=f"{name}-{i + 1}of{k}",
        )
        for i in range(k)
    ]
