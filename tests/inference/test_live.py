from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.audio.ringbuffer import RingBuffer
from mgr_desktop.inference import live as live_module
from mgr_desktop.inference.engine import Engine
from mgr_desktop.inference.live import LiveAnalyzer
from mgr_desktop.verdict import Decision, decide
from tests.helpers import tone


class FixedEngine:
    """Stands in for the model: each window's probabilities are set by hand."""

    def __init__(self, answers: dict[int, list[float]], outside: str = "") -> None:
        self.all_labels = ["a", "b", "c"] + ([outside] if outside else [])
        self.labels = ["a", "b", "c"]
        self.outside = outside
        self.answers = answers

    def classify_segment(self, window: np.ndarray) -> np.ndarray:
        return np.array(self.answers[id(window)])

    def decide(self, probs: np.ndarray) -> Decision:
        return decide(probs, self.all_labels, self.outside, 0.5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_readouts_are_smoothed_and_a_reset_forgets(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(live_module, "time", clock)
    a, b = tone(3.0, freq=150), tone(3.0, freq=900)  # loud enough to be judged
    engine = FixedEngine({id(a): [0.5, 0.3, 0.2], id(b): [0.1, 0.1, 0.8]})
    live = LiveAnalyzer(engine, smoothing=0.6)  # type: ignore[arg-type]
    clock.now += 7.0
    first = live.analyze(a, -20.0)
    assert first.probabilities == pytest.approx({"a": 0.5, "b": 0.3, "c": 0.2})
    assert (first.genre, first.time) == ("a", 7.0)
    clock.now += 0.25
    second = live.analyze(b, -20.0)  # 0.6 of the past, 0.4 of the new window
    assert second.probabilities == pytest.approx({"a": 0.34, "b": 0.22, "c": 0.44})
    assert (second.genre, second.confidence, second.time) == ("c", pytest.approx(0.44), 7.25)
    third = live.analyze(b, -20.0)
    assert third.probabilities == pytest.approx({"a": 0.244, "b": 0.172, "c": 0.584})
    live.reset()
    clock.now += 0.5
    fresh = live.analyze(b, -20.0)
    assert fresh.probabilities == pytest.approx({"a": 0.1, "b": 0.1, "c": 0.8})
    assert fresh.time == 0.5  # the clock restarted at the reset
    row = fresh.to_json()
    assert set(row) == {
        "time", "genre", "confidence", "uncertain", "probabilities", "level_db", "outside",
    }  # fmt: skip
    assert (row["genre"], row["confidence"], row["time"]) == ("c", 0.8, 0.5)


def test_an_open_set_model_says_none_of_its_genres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_module, "time", Clock())
    a, b = tone(3.0), tone(3.0, freq=900)
    engine = FixedEngine({id(a): [0.2, 0.1, 0.1, 0.6], id(b): [0.7, 0.1, 0.1, 0.1]}, "other")
    live = LiveAnalyzer(engine, smoothing=0.0)  # type: ignore[arg-type]
    out = live.analyze(a, -20.0)
    assert (out.genre, out.outside) == (None, True)
    assert out.probabilities == pytest.approx({"a": 0.2, "b": 0.1, "c": 0.1})  # genres only
    assert out.verdict_text() == "none of its genres (closest: a)"
    assert out.to_json()["closest"] == "a" and "note" not in out.to_json()
    inside = live.analyze(b, -20.0)
    assert (inside.genre, inside.outside, inside.confidence) == ("a", False, pytest.approx(0.7))


def test_silence_gives_no_verdict_and_forgets_the_past(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_module, "time", Clock())
    a, b, quiet = tone(3.0), tone(3.0, freq=900), np.zeros(66150, np.float32)
    engine = FixedEngine({id(a): [0.5, 0.3, 0.2], id(b): [0.1, 0.1, 0.8]})
    live = LiveAnalyzer(engine, smoothing=0.6)  # type: ignore[arg-type]
    live.analyze(a, -20.0)
    silent = live.analyze(quiet, -90.0)
    assert (silent.genre, silent.probabilities) == (None, {})
    assert "note" in silent.to_json()
    after = live.analyze(b, -20.0)  # nothing of `a` is left in the smoothing
    assert after.probabilities == pytest.approx({"a": 0.1, "b": 0.1, "c": 0.8})


def test_the_real_engine_feeds_the_readout(cnn_model: Path) -> None:
    engine = Engine.from_file(cnn_model, "cpu")
    window = tone(3.0, freq=330)
    readout = LiveAnalyzer(engine).analyze(window, -20.0)
    np.testing.assert_allclose(
        list(readout.probabilities.values()), engine.classify_segment(window), atol=1e-6
    )
    assert list(readout.probabilities) == engine.labels


def test_ring_buffer_gives_the_latest_window_contiguously() -> None:
    ring = RingBuffer(1000)
    data = np.arange(2500, dtype=np.float32)
    for i in range(0, 2500, 300):  # blocks that wrap around the end of the buffer
        ring.write(data[i : i + 300])
    np.testing.assert_array_equal(ring.latest(1000), data[1500:2500])
    np.testing.assert_array_equal(ring.latest(10), data[2490:2500])
    block, pos = ring.since(2400)
    np.testing.assert_array_equal(block, data[2400:2500])
    assert pos == 2500
    behind, _ = ring.since(0)  # a reader more than a buffer behind skips ahead
    assert len(behind) == 1000
    young = RingBuffer(100)
    young.write(np.ones(30, np.float32))
    assert young.latest(50)[:20].tolist() == [0.0] * 20  # zeros before anything was written
