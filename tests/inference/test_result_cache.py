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

    def classify_files(
        self, paths: Iterable[str | os.PathLike[str]], decoders: object = None
    ) -> Iterator[object]:
        for p in paths:
            self.seen.append(str(p))
            yield from self.engine.classify_files([p], decoders=decoders)  # type: ignore[arg-type]


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


def test_a_name_that_is_not_utf8_is_cached_and_comes_back_under_its_own_name(
    engine: Engine, songs: list[Path], app_home: Path
) -> None:
    """SQLite's text cannot hold the name's odd bytes: the key carries them in base64 (the
    window and the CLI share this cache)."""
    odd = os.fsdecode(os.path.join(os.fsencode(songs[0].parent), b"\xff\xfe-latin1-\xe9.wav"))
    shutil.copy(songs[0], odd)
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        first = results(counting, [Path(odd), songs[1]], cache)
    with ResultCache() as cache:
        second = results(counting, [Path(odd), songs[1]], cache)
    assert counting.seen == [odd, str(songs[1])]  # the second run is all hits
    assert second[0].path == odd  # type: ignore[attr-defined]
    assert_same(first[0], second[0])  # type: ignore[arg-type]


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

        e3 = Engine.from_file(model, "cpu", hop_seconds=e2.hop_seconds / 2)
        counting = CountingEngine(e3)
        results(counting, songs, cache)
        assert counting.seen == [str(p) for p in songs]

        other = "float32" if e3.precision == "bfloat16" else "bfloat16"
        e4 = Engine.from_file(model, "cpu", hop_seconds=e3.hop_seconds, precision=other)
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


def test_a_locked_database_costs_one_wait_then_the_run_goes_on_uncached(
    engine: Engine,
    songs: list[Path],
    app_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import sqlite3

    import mgr_desktop.inference.result_cache as rc

    monkeypatch.setattr(rc, "BUSY_TIMEOUT_S", 0.2)
    cache = ResultCache()
    writes: list[str] = []  # each write waits the busy timeout while the lock is held
    cache._conn.set_trace_callback(  # type: ignore[union-attr]
        lambda sql: writes.append(sql) if sql.lstrip().startswith(("INSERT", "DELETE")) else None
    )
    other = sqlite3.connect(cache.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        with caplog.at_level(logging.WARNING):
            out = results(engine, songs, cache)
            cache.put(model_key(engine), out[0])  # type: ignore[arg-type]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(isinstance(r, TrackResult) for r in out)
    assert len(writes) == 1  # not one wait per file
    assert not cache.enabled  # off for the rest of the run
    (warning,) = [r.getMessage() for r in caplog.records if "result cache" in r.getMessage()]
    assert "busy" in warning and "rest of this run" in warning

    with ResultCache() as cache:  # the next run, the lock gone: cached again
        results(engine, songs, cache)
        assert cache.get(model_key(engine), songs[0]) is not None


@pytest.mark.parametrize("how", ["in place", "renamed over"])
def test_a_same_size_rewrite_with_its_mtime_restored_is_a_miss(
    how: str, engine: Engine, songs: list[Path], app_home: Path, tmp_path: Path
) -> None:
    counting = CountingEngine(engine)
    with ResultCache() as cache:
        first = results(counting, songs, cache)
        victim = songs[1]
        st = os.stat(victim)
        other = write(tmp_path / "other.wav", tone(3.5, freq=3000.0), 22050)
        assert other.stat().st_size == st.st_size  # same length, other music
        if how == "in place":
            victim.write_bytes(other.read_bytes())
        else:
            os.replace(other, victim)
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # as a restore or a sync does
        assert (victim.stat().st_size, victim.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        counting.seen.clear()
        again = results(counting, songs, cache)
    assert counting.seen == [str(victim)]  # its old verdict is not served
    assert again[1].probabilities != first[1].probabilities  # type: ignore[attr-defined]


def test_each_result_is_keyed_on_the_file_as_it_was_decoded(
    engine: Engine, songs: list[Path], app_home: Path, tmp_path: Path
) -> None:
    from mgr_desktop.inference.result_source import source_key

    victim = songs[2]
    swapped: list[str] = []

    class SwappingEngine(CountingEngine):
        """Replaces the victim with another song once its result is made (decoded)."""

        def classify_files(
            self, paths: Iterable[str | os.PathLike[str]], decoders: object = None
        ) -> Iterator[object]:
            for r in super().classify_files(paths, decoders):
                if getattr(r, "path", None) == str(victim) and not swapped:
                    other = write(tmp_path / "new.wav", tone(6.0, freq=900.0), 22050)
                    os.replace(other, victim)
                    swapped.append(str(victim))
                yield r

    counting = SwappingEngine(engine)
    with ResultCache() as cache:
        out = results(counting, songs, cache)
        assert swapped
        assert source_key(out[2]) != file_key(victim)  # type: ignore[arg-type]
        assert source_key(out[0]) == file_key(songs[0])  # type: ignore[arg-type]
        counting = CountingEngine(engine)
        again = results(counting, songs, cache)
    assert counting.seen == [str(victim)]  # the new file was never cached with the old verdict
    assert again[2].duration == pytest.approx(6.0, abs=0.01)  # type: ignore[attr-defined]
    hit = again[0]
    assert source_key(hit) == file_key(songs[0])  # type: ignore[arg-type]


def test_a_cache_of_an_older_layout_is_started_afresh(
    engine: Engine, songs: list[Path], app_home: Path
) -> None:
    import sqlite3

    path = default_path()
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE results (path TEXT NOT NULL, model TEXT NOT NULL, size INTEGER NOT NULL,"
        " mtime_ns INTEGER NOT NULL, doc BLOB NOT NULL, segments BLOB NOT NULL,"
        " PRIMARY KEY (path, model)) WITHOUT ROWID;"
        "CREATE TABLE models (model TEXT PRIMARY KEY, used INTEGER NOT NULL);"
    )
    old.close()
    counting = CountingEngine(engine)
    for _ in range(2):
        with ResultCache() as cache:
            assert cache.enabled
            results(counting, songs, cache)
    assert counting.seen == [str(p) for p in songs]  # decoded once, then cached


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
