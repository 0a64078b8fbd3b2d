from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mgr_desktop.config import GTZAN_GENRES
from mgr_desktop.train.dataset_tracks import Track, discover
from mgr_desktop.train.splits import (
    fault_filtered_split,
    kfold_splits,
    published_lists,
    random_split,
)
from tests.helpers import tone, write


def _tracks(n_per: int = 20, genres: tuple[str, ...] = ("a", "b", "c")) -> list[Track]:
    return [Track(Path(f"/d/{g}/{g}.{i:05d}.wav"), g) for g in genres for i in range(n_per)]


def test_random_split_is_stratified_seeded_and_disjoint() -> None:
    tracks = _tracks(20)
    s = random_split(tracks, seed=3)
    s.check_disjoint()
    assert len(s.train) + len(s.valid) + len(s.test) == len(tracks)
    for part, n in (("train", 14), ("valid", 3), ("test", 3)):
        assert Counter(t.label for t in getattr(s, part)) == {"a": n, "b": n, "c": n}
    assert random_split(tracks, seed=3) == s
    assert random_split(tracks, seed=4).test != s.test


def test_kfold_tests_every_track_exactly_once() -> None:
    tracks = _tracks(10)
    folds = kfold_splits(tracks, k=5, seed=0)
    assert len(folds) == 5
    tested = Counter(str(t.path) for f in folds for t in f.test)
    assert set(tested.values()) == {1} and len(tested) == len(tracks)
    for f in folds:
        f.check_disjoint()
        assert Counter(t.label for t in f.test) == {"a": 2, "b": 2, "c": 2}


def test_fault_filtered_places_exactly_the_published_tracks(tmp_path: Path) -> None:
    """A tree with all 1000 GTZAN names (some as .au): each subset holds exactly its list."""
    root = tmp_path / "gtzan" / "genres"
    for j, g in enumerate(GTZAN_GENRES):
        for i in range(100):
            clip = tone(1.1, 4000, freq=100 + 3 * i + j / 10)  # unique, or they'd be duplicates
            write(root / g / f"{g}.{i:05d}.{'au' if i % 7 == 0 else 'wav'}", clip, 4000)
    report = discover(tmp_path / "gtzan")
    assert len(report.tracks) == 1000
    split = fault_filtered_split(report.tracks)
    split.check_disjoint()
    lists = published_lists()
    assert (len(lists["train"]), len(lists["valid"]), len(lists["test"])) == (443, 197, 290)
    for part in ("train", "valid", "test"):
        assert sorted(t.stem for t in getattr(split, part)) == sorted(lists[part])


def test_fault_filtered_refuses_data_without_gtzan_names() -> None:
    from mgr_desktop.train.dataset_tracks import DatasetError

    with pytest.raises(DatasetError, match="GTZAN's file names"):
        fault_filtered_split(_tracks(5))
