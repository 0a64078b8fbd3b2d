"""The result cache: hits skip the engine, changes to the file or the model invalidate, and a
broken database never stops classification."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.inference.engine import Engine, FileFailure, Segment, TrackResult
from mgr_desktop.inference.result_cache import (
    ResultCache,
    cached_classify,
    default_path,
    file_key,
    model_key,
)
from mgr_desktop.inference.result_codec import decode, encode
from tests.helpers import make_model_file, tone, write


class CountingEngine:
    """The real engine, counting which files reach `classify_files`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.path, self.hop_seconds = engine.path, engine.hop_seconds
        self.precision = engine.precision
        self.seen: list[str] = []

    def classify_files(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[object]:
        for p in paths:
            self.seen.append(str(p))
            yield from self.engine.classify_files([p])


@pytest.fixture(scope="module")
def engine(cnn_model: Path) -> Engine:
    return Engine.from_file(cnn_model, "cpu")


@pytest.fixture
def songs(tmp_path: Path) -> list[Path]:
    return [
        write(tmp_path / "music" / f"{i:02d} song.wav", tone(3.5, freq=220.0 * (i + 1)), 22050)
        for i in range(4)
    ]


def assert_same(a: TrackResult, b: TrackResult) -> None:
    assert (a.path, a.genre, a.confidence, a.duration, a.note) == (
        b.path,
        b.genre,
        b.confidence,
        b.duration,
        b.note,
    )
    assert a.probabilities == b.probabilities and list(a.probabilities) == list(b.probabilities)
    assert a.tags == b.tags
    assert len(a.segments) == len(b.segments)
    for s, t in zip(a.segments, b.segments, strict=True):
        assert (s.start, s.end, s.genre, s.confidence) == (t.start, t.end, t.genre, t.confidence)
        assert t.probabilities.dtype == np.float32
        np.testing.assert_allclose(t.probabilities, s.probabilities, rtol=1e-3, atol=1e-4)


def results(engine: object, paths: list[Path], cache: ResultCache | None) -> list[object]:
    return list(cached_classify(engine, [str(p) for p in paths], cache))  # type: ignore[arg-type]


def test_round_trip_is_exact_except_float16_segment_probabilities() -> None:
    probs = np.array([[0.1234567, 0.8765433], [0.5, 0.5]], np.float32)
    original = TrackResult(
        path="x.wav",
        genre="jazz",
        confidence=0.876543210987,
        probabilities={"jazz": 0.876543210987, "blues": 0.123456789013},
        segments=[
            Segment(0.0, 3.0, "jazz", float(probs[0].max()), probs[0]),
            Segment(1.5, 3.3333333333, None, 0.5, probs[1]),
        ],
        duration=3.3333333333,
        note="a note: ü",
        tags={"piano": 0.71, "mellow": 0.25},
    )
    doc, blob = encode(original)
    assert_same(original, decode("x.wav", doc, blob))
    empty = TrackResult("y.wav", None, 0.0, {}, [], 0.0, note="no signal")
    assert_same(empty, decode("y.wav", *encode(empty)))


def test_second_run_comes_from_the_cache_without_the_engine(
    engine: Engine, songs: list[Path], app_home: Path
) -> None:
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        assert cache.path == default_path() == app_home / "cache" / "results.sqlite"
        first = results(counting, songs, cache)
    assert counting.seen == [str(p) for p in songs]
    assert all(isinstance(r, TrackResult) for r in first)

    counting.seen.clear()
    with ResultCache() as cache:  # a new run: a new connection to the same file
        second = results(counting, songs, cache)
    assert counting.seen == []
    for a, b in zip(first, second, strict=True):
        assert_same(a, b)  # type: ignore[arg-type]


def test_results_keep_input_order_with_hits_and_misses_mixed(
    engine: Engine, songs: list[Path], app_home: Path
) -> None:
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        results(counting, songs[1::2], cache)
        counting.seen.clear()
        mixed = results(counting, songs, cache)
    assert [r.path for r in mixed] == [str(p) for p in songs]  # type: ignore[attr-defined]
    assert counting.seen == [str(p) for p in songs[0::2]]


def test_a_changed_file_is_classified_again(
    engine: Engine, songs: list[Path], app_home: Path
) -> None:
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        results(counting, songs, cache)
        before = file_key(songs[2])
        write(songs[2], tone(5.0, freq=3000.0), 22050)  # new content ...
        st = os.stat(songs[2])
        os.utime(songs[2], ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))  # ... new mtime
        assert file_key(songs[2]) != before
        counting.seen.clear()
        again = results(counting, songs, cache)
    assert counting.seen == [str(songs[2])]
    assert again[2].duration == pytest.approx(5.0, abs=0.01)  # type: ignore[attr-defined]


def test_a_different_model_or_hop_is_a_miss(
    cnn_model: Path, songs: list[Path], app_home: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model.safetensors"
    shutil.copyfile(cnn_model, model)
    e1 = Engine.from_file(model, "cpu")
    key1 = model_key(e1)
    with ResultCache() as cache:
        results(e1, songs, cache)

        counting = CountingEngine(Engine.from_file(model, "cpu"))
        results(counting, songs, cache)
        assert counting.seen == []  # same bytes, another engine object: still hits

        make_model_file(model, "cnn", seed=7)  # the same path with other weights
        e2 = Engine.from_file(model, "cpu")
        assert model_key(e2) != key1
        counting = CountingEngine(e2)
        results(counting, songs, cache)
        assert counting.seen == [str(p) for p in songs]

        e3 = Engine.from_file(model, "cpu", hop_seconds=3.0)
        counting = CountingEngine(e3)
        results(counting, songs, cache)
        assert counting.seen == [str(p) for p in songs]

        other = "float32" if e3.precision == "bfloat16" else "bfloat16"
        e4 = Engine.from_file(model, "cpu", hop_seconds=3.0, precision=other)
        counting = CountingEngine(e4)
        results(counting, songs, cache)
        assert counting.seen == [str(p) for p in songs]  # other arithmetic, other numbers


def test_failures_are_not_cached(engine: Engine, tmp_path: Path, app_home: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF but not really")
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        for _ in range(2):
            (r,) = results(counting, [bad], cache)
            assert isinstance(r, FileFailure)
    assert counting.seen == [str(bad)] * 2


def test_another_name_for_the_same_file_hits_and_keeps_its_own_name(
    engine: Engine, songs: list[Path], app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        results(counting, songs[:1], cache)
        counting.seen.clear()
        monkeypatch.chdir(songs[0].parent)
        (r,) = results(counting, [Path(songs[0].name)], cache)
    assert counting.seen == []
    assert r.path == songs[0].name  # type: ignore[attr-defined]


def test_a_corrupt_database_is_replaced_and_classification_goes_on(
    engine: Engine, songs: list[Path], app_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not an SQLite database, just junk " * 100)
    counting = CountingEngine(engine)
    with caplog.at_level(logging.WARNING), ResultCache() as cache:
        out = results(counting, songs, cache)
    assert all(isinstance(r, TrackResult) for r in out)
    assert any("damaged" in r.getMessage() for r in caplog.records)
    counting.seen.clear()
    with ResultCache() as cache:
        results(counting, songs, cache)
    assert counting.seen == []  # the new cache works


def test_a_database_damaged_mid_run_turns_the_cache_off(
    engine: Engine, songs: list[Path], app_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResultCache()
    cache._conn.execute("DROP TABLE results")  # type: ignore[union-attr]
    with caplog.at_level(logging.WARNING):
        out = results(engine, songs, cache)
    assert all(isinstance(r, TrackResult) for r in out)
    assert not cache.enabled
    assert sum("result cache" in r.getMessage() for r in caplog.records) == 1


def test_an_unusable_cache_location_only_warns(
    engine: Engine, songs: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING):
        cache = ResultCache(blocker / "results.sqlite")
    assert not cache.enabled
    assert "result cache disabled" in caplog.text
    out = results(engine, songs, cache)
    assert all(isinstance(r, TrackResult) for r in out)


def test_a_locked_database_skips_caching_without_waiting_forever(
    engine: Engine, songs: list[Path], app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import mgr_desktop.inference.result_cache as rc

    monkeypatch.setattr(rc, "BUSY_TIMEOUT_S", 0.05)
    cache = ResultCache()
    other = sqlite3.connect(cache.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        out = results(engine, songs, cache)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(isinstance(r, TrackResult) for r in out)
    assert cache.enabled  # busy is transient: later files may be cached
    cache.put(model_key(engine), out[0])  # type: ignore[arg-type]
    assert cache.get(model_key(engine), songs[0]) is not None


def test_threads_can_share_one_cache(engine: Engine, songs: list[Path], app_home: Path) -> None:
    (r,) = results(engine, songs[:1], None)
    model = model_key(engine)
    cache = ResultCache()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                cache.put(model, r)  # type: ignore[arg-type]
                assert cache.get(model, songs[0]) is not None
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_only_the_most_recently_used_models_keep_their_results(
    engine: Engine, songs: list[Path], app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mgr_desktop.inference.result_cache as rc

    monkeypatch.setattr(rc, "KEEP_MODELS", 2)
    (r,) = results(engine, songs[:1], None)
    with ResultCache() as cache:
        for name in ("a", "b", "c"):
            cache.use_model(name)
            cache.put(name, r)  # type: ignore[arg-type]
        assert cache.get("a", songs[0]) is None  # the oldest model's results are gone
        assert cache.get("b", songs[0]) is not None and cache.get("c", songs[0]) is not None
        cache.use_model("b")
        cache.use_model("d")
        assert cache.get("c", songs[0]) is None
        assert cache.get("b", songs[0]) is not None
