from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.train.dataset_tracks import DatasetError, discover
from tests.helpers import tone, write


def _tree(
    root: Path,
    layout: str,
    ext: str = "wav",
    genres: tuple[str, ...] = ("rock", "jazz"),
    n: int = 2,
) -> Path:
    base = root / layout if layout else root
    for j, g in enumerate(genres):
        for i in range(n):
            write(
                base / g / f"{g}.{i:05d}.{ext}", tone(1.5, 8000, freq=200 + 100 * i + 7 * j), 8000
            )
    return root


@pytest.mark.parametrize("layout", ["", "genres", "genres_original", "Data/genres_original"])
def test_usual_gtzan_layouts_are_found(tmp_path: Path, layout: str) -> None:
    report = discover(_tree(tmp_path, layout))
    assert report.labels == ["jazz", "rock"]  # folder names, sorted
    assert report.counts() == {"jazz": 2, "rock": 2}
    assert report.seconds["jazz"] == pytest.approx(3.0)


def test_au_files_and_any_genre_names(tmp_path: Path) -> None:
    report = discover(_tree(tmp_path, "genres", "au", genres=("zouk", "afrobeat", "grime")))
    assert report.labels == ["afrobeat", "grime", "zouk"]
    assert all(t.path.suffix == ".au" for t in report.tracks)


def test_unreadable_and_duplicate_files_are_listed_and_skipped(tmp_path: Path) -> None:
    root = _tree(tmp_path, "genres_original", n=3)
    jazz = root / "genres_original" / "jazz"
    (jazz / "jazz.00054.wav").write_bytes(np.random.default_rng(0).bytes(3000))  # like Kaggle's
    shutil.copy(jazz / "jazz.00000.wav", jazz / "jazz.00099.wav")
    report = discover(root)
    assert report.counts() == {"jazz": 3, "rock": 3}
    assert [Path(p).name for p, _ in report.unreadable] == ["jazz.00054.wav"]
    assert [(Path(a).name, Path(b).name) for a, b in report.duplicates] == [
        ("jazz.00099.wav", "jazz.00000.wav")
    ]
    text = report.summary()
    assert "jazz.00054.wav" in text and "duplicate" in text


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing", "no such folder"),
        (lambda p: p, "no genre folders"),  # empty
        (lambda p: (p / "notes.txt").write_text("x") and p, "no genre folders"),
        (lambda p: write(p / "only" / "a.wav", tone(2.0), 22050).parent.parent, "no genre folders"),
    ],
)
def test_bad_dataset_folders_say_why(tmp_path: Path, make, reason: str) -> None:
    with pytest.raises(DatasetError, match=reason):
        discover(make(tmp_path))
