from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mgr_desktop.inference.engine import Engine, FileFailure, TrackResult
from tests.helpers import tone, write


@pytest.fixture(scope="module")
def engine(cnn_model: Path) -> Engine:
    return Engine.from_file(cnn_model, "cpu")


def test_track_verdict_is_the_normalised_product_of_segment_probabilities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two segments saying a: 0.9, b: 0.1 and a: 0.2, b: 0.8. Their geometric means are
    sqrt(0.18) and sqrt(0.08), which normalise to exactly 0.6 and 0.4 (a mean of the
    probabilities would say 0.55 and 0.45)."""
    from tests.helpers import make_model_file

    engine = Engine.from_file(make_model_file(tmp_path / "ab.safetensors", labels=("a", "b")))
    segments = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
    monkeypatch.setattr(engine, "segment_outputs", lambda w: (segments[: len(w)], None, None))
    noise = np.random.default_rng(0).standard_normal(int(22050 * 4.5)).astype(np.float32) * 0.1
    result = engine.classify_waveform(noise, "x")
    assert [s.genre for s in result.segments] == ["a", "b"]
    assert result.probabilities == pytest.approx({"a": 0.6, "b": 0.4}, abs=1e-6)
    assert (result.genre, result.confidence) == ("a", pytest.approx(0.6, abs=1e-6))


def test_segments_are_three_seconds_with_hop_and_cover_the_end(engine: Engine) -> None:
    result = engine.classify_waveform(np.zeros(22050 * 30, np.float32))
    assert len(result.segments) == 10  # back to back: 0, 3, ... 27 (the last ends at 30)
    assert all(s.end - s.start == pytest.approx(3.0) or s.end == 30.0 for s in result.segments)
    assert [s.start for s in result.segments[:3]] == [0.0, 3.0, 6.0]  # nominal, exact
    assert result.segments[-1].end == pytest.approx(30.0, abs=0.03)


def test_short_clip_is_padded_to_one_window(engine: Engine) -> None:
    result = engine.classify_waveform(tone(1.3), "short")
    assert len(result.segments) == 1 and result.duration == pytest.approx(1.3)
    assert result.segments[0].end == pytest.approx(1.3)  # never claims audio that is not there


def test_deterministic(engine: Engine) -> None:
    wave = tone(7.0, freq=220)
    a, b = engine.classify_waveform(wave), engine.classify_waveform(wave)
    assert a.probabilities == b.probabilities


def test_batch_keeps_order_and_continues_past_failures(engine: Engine, tmp_path: Path) -> None:
    good1 = write(tmp_path / "a.wav", tone(4.0), 22050)
    bad = tmp_path / "b.wav"
    bad.write_text("not audio")
    good2 = write(tmp_path / "c.flac", tone(5.0, 44100), 44100)
    results = list(engine.classify_files([good1, bad, good2]))
    assert [r.path for r in results] == [str(good1), str(bad), str(good2)]
    assert isinstance(results[0], TrackResult) and isinstance(results[2], TrackResult)
    assert isinstance(results[1], FileFailure) and "text" in results[1].error
    # the batch path gives the same answer as the one-file path
    assert results[2].probabilities == engine.classify_file(good2).probabilities


def test_live_window_matches_the_file_path_on_one_window(engine: Engine) -> None:
    wave = tone(3.0, freq=330)
    live = engine.classify_segment(wave)
    whole = engine.classify_waveform(wave)
    np.testing.assert_allclose(live, whole.segments[0].probabilities, atol=1e-6)


def test_labels_come_from_the_checkpoint(tmp_path: Path) -> None:
    from tests.helpers import make_model_file

    path = make_model_file(tmp_path / "three.safetensors", labels=("a", "b", "c"))
    result = Engine.from_file(path, "cpu").classify_waveform(tone(3.0))
    assert set(result.probabilities) == {"a", "b", "c"}


def test_each_worker_sets_its_thread_share_once_and_the_caller_keeps_its_own(
    tmp_path: Path, cnn_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    paths = [write(tmp_path / f"{i}.wav", tone(4.0, 22050, 220.0 * (i + 1)), 22050)
             for i in range(4)]  # fmt: skip
    engine = Engine.from_file(cnn_model, "cpu", threads=4)
    seen: dict[str, int] = {}
    original = Engine.classify_file

    def recording(self: Engine, path, *a, **kw):  # type: ignore[no-untyped-def]
        seen[threading.current_thread().name] = torch.get_num_threads()
        return original(self, path, *a, **kw)

    monkeypatch.setattr(Engine, "classify_file", recording)
    calls: list[int] = []
    real_set = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n) or real_set(n))
    before = torch.get_num_threads()
    results = list(engine.classify_files(paths, workers=2))
    assert len(results) == 4 and torch.get_num_threads() == before
    assert set(seen.values()) == {2} and len(seen) <= 2  # 4 threads shared by 2 workers
    assert calls == [2] * len(seen)  # once per worker thread, never restored
