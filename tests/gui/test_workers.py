"""One owner per thread: a model loads while a batch runs, and a batch can be cancelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.gui.file_table import ANALYSING, CANCELLED, DONE, QUEUED
from tests.gui.test_main_window import drop
from tests.helpers import write


@pytest.fixture
def many(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for i in range(150):
        write(tmp_path / "many" / f"{i:03d}.wav", rng.standard_normal(22050 * 3) * 0.1, 22050)
    return tmp_path / "many"


def _counts(window) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in window.files.model.rows:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def test_a_model_loads_while_a_batch_is_running(window, many, cnn_model, second_model, qtbot):
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    finished: list[str] = []
    window.file_worker.file_done.connect(lambda path, _: finished.append(path))
    window.file_worker.file_failed.connect(lambda path, _: finished.append(path))
    drop(window, [many])
    qtbot.waitUntil(lambda: len(finished) >= 3, timeout=60000)
    at_load: list[int] = []
    window.model_loader.model_loaded.connect(lambda *a: at_load.append(len(finished)))
    window.use_model(str(second_model))
    qtbot.waitUntil(lambda: bool(at_load), timeout=30000)
    # the new model was ready while the first batch still had files to go (a loader that
    # waited behind the batch would see all 150 finished)
    assert at_load[0] < 150, at_load
    qtbot.waitUntil(lambda: _counts(window) == {DONE: 150}, timeout=120000)
    assert window.engine.labels == ["ambient", "drill", "gqom"]
    assert window.files.model.rows[-1].result.genre in ("ambient", "drill", "gqom")


def test_cancelling_a_batch_stops_it_and_says_so(window, many, cnn_model, qtbot) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [many])
    qtbot.waitUntil(lambda: _counts(window).get(DONE, 0) >= 2, timeout=60000)
    window.cancel_action.trigger()
    qtbot.waitUntil(lambda: not ({QUEUED, ANALYSING} & set(_counts(window))), timeout=60000)
    counts = _counts(window)
    assert counts.get(CANCELLED, 0) > 0 and counts.get(DONE, 0) >= 2, counts
    window.files.requeue_all()  # analysing again picks the cancelled ones up
    qtbot.waitUntil(lambda: _counts(window) == {DONE: 150}, timeout=120000)
