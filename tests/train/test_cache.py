from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.config import FeatureConfig
from mgr_desktop.train.cache import FeatureCache, Stopped
from tests.helpers import tone, write


def _files(d: Path, n: int = 4) -> list[Path]:
    return [write(d / f"t{i}.wav", tone(3.5, freq=200 + 50 * i), 22050) for i in range(n)]


def test_second_build_reads_everything_from_the_cache(tmp_path: Path) -> None:
    files = _files(tmp_path / "audio")
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    first = cache.build(files)
    assert first.hits == 0 and len(first.features) == 4
    again = FeatureCache(tmp_path / "cache", FeatureConfig()).build(files)
    assert again.hits == 4
    for f in files:
        np.testing.assert_array_equal(first.features[str(f)], again.features[str(f)])
    assert first.features[str(files[0])].dtype == np.float16
    assert first.features[str(files[0])].shape == (128, 1 + int(3.5 * 22050) // 512)


def test_key_includes_settings_size_and_mtime(tmp_path: Path) -> None:
    files = _files(tmp_path / "audio", 2)
    FeatureCache(tmp_path / "cache", FeatureConfig()).build(files)
    assert FeatureCache(tmp_path / "cache", FeatureConfig(n_mels=64)).build(files).hits == 0
    write(files[0], tone(3.5, freq=999), 22050)  # edited in place
    os.utime(files[0], ns=(1, 1))
    result = FeatureCache(tmp_path / "cache", FeatureConfig()).build(files)
    assert result.hits == 1


def test_damaged_or_half_written_entries_are_not_trusted(tmp_path: Path) -> None:
    files = _files(tmp_path / "audio", 2)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    good = cache.build(files).features[str(files[0])]
    entry = cache.entry(files[0])
    entry.write_bytes(entry.read_bytes()[:100])  # what a crash mid-write would leave, at worst
    (entry.parent / f".{entry.name}.123.tmp").write_bytes(b"partial")  # what kill -9 leaves
    rebuilt = cache.build(files)
    assert rebuilt.hits == 1
    np.testing.assert_array_equal(rebuilt.features[str(files[0])], good)


def test_unreadable_tracks_are_reported_and_the_rest_cached(tmp_path: Path) -> None:
    files = _files(tmp_path / "audio", 3)
    files[1].write_text("broken")
    result = FeatureCache(tmp_path / "cache", FeatureConfig()).build(files)
    assert len(result.features) == 2
    assert result.failures == [(str(files[1]), "not audio: the file is text")]


def test_stop_during_caching(tmp_path: Path) -> None:
    files = _files(tmp_path / "audio", 6)
    stop = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int, path: str) -> None:
        seen.append(done)
        if done >= 2:
            stop.set()

    with pytest.raises(Stopped):
        FeatureCache(tmp_path / "cache", FeatureConfig()).build(files, progress, stop, workers=1)
    assert max(seen) < 6
