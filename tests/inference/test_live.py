from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.audio.ringbuffer import RingBuffer
from mgr_desktop.inference.engine import Engine
from mgr_desktop.inference.live import LiveAnalyzer
from tests.helpers import tone


@pytest.fixture(scope="module")
def engine(cnn_model: Path) -> Engine:
    return Engine.from_file(cnn_model, "cpu")


def test_readouts_are_smoothed_and_a_reset_forgets(engine: Engine) -> None:
    a, b = tone(3.0, freq=150), np.random.default_rng(0).standard_normal(66150).astype(np.float32)
    live = LiveAnalyzer(engine, smoothing=0.6)
    first = live.analyze(a, -20.0)
    np.testing.assert_allclose(
        list(first.probabilities.values()), engine.classify_window(a), atol=1e-6
    )
    second = live.analyze(b, -20.0)
    expected = 0.6 * engine.classify_window(a) + 0.4 * engine.classify_window(b)
    np.testing.assert_allclose(
        list(second.probabilities.values()), expected / expected.sum(), atol=1e-6
    )
    live.reset()
    fresh = live.analyze(b, -20.0)
    np.testing.assert_allclose(
        list(fresh.probabilities.values()), engine.classify_window(b), atol=1e-6
    )
    assert fresh.time < second.time + 1  # the clock restarted too
    row = fresh.to_json()
    assert set(row) == {"time", "genre", "confidence", "uncertain", "probabilities", "level_db"}
    assert row["genre"] == max(row["probabilities"], key=row["probabilities"].get)


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
