"""Training events are types of plain values: every one crosses a process queue unchanged."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import pickle
import typing

import pytest

from mgr_desktop.train import events as ev

SAMPLES = {
    ev.DatasetFound: ev.DatasetFound("24 tracks in 4 genres", {"labels": ["a", "b"]}),
    ev.CacheStarted: ev.CacheStarted(24),
    ev.CacheProgress: ev.CacheProgress(3, 24, "/data/blues/blues.00001.wav"),
    ev.CacheDone: ev.CacheDone(24, hits=20, failed=1),
    ev.Message: ev.Message("no test subset: the test was not measured"),
    ev.Resumed: ev.Resumed(1, 2, "/runs/x/last.safetensors"),
    ev.EpochStarted: ev.EpochStarted(0, 3, 5),
    ev.BatchProgress: ev.BatchProgress(0, 4, 5, 1.25, 3e-4, 0.5),
    ev.EpochEnded: ev.EpochEnded(1, 3, 1.2, 1.1, 0.5, 0.4, 1e-3, 2.0, 1),
    ev.CheckpointSaved: ev.CheckpointSaved("best", "/runs/x/model.safetensors"),
    ev.RunStopped: ev.RunStopped(1, 2),
    ev.TestMeasured: ev.TestMeasured({"track_accuracy": 0.75, "confusion": [[1, 0], [0, 1]]}),
    ev.FitFinished: ev.FitFinished("/runs/x", "/runs/x/model.safetensors"),
    ev.FoldStarted: ev.FoldStarted(2, 5),
    ev.FoldEnded: ev.FoldEnded(2, 5, {"track_accuracy": 0.75}),
    ev.KFoldFinished: ev.KFoldFinished(
        {"track_accuracy": {"mean": 0.8, "std": 0.05, "folds": [0.75, 0.85]}}, 2, "fold-2"
    ),
    ev.RunEnded: ev.RunEnded("finished", "/runs/x", "/runs/x/model.safetensors"),
    ev.RunFailed: ev.RunFailed("out of memory", "Traceback …"),
}


def test_every_event_type_has_a_sample_and_is_frozen() -> None:
    assert set(SAMPLES) == set(ev.EVENT_TYPES) == set(typing.get_args(ev.Event))
    for kind, sample in SAMPLES.items():
        assert type(sample) is kind and dataclasses.is_dataclass(sample)
        with pytest.raises(dataclasses.FrozenInstanceError):
            sample.__setattr__(dataclasses.fields(sample)[0].name, None)


def test_events_pickle_and_cross_a_spawn_queue() -> None:
    samples = list(SAMPLES.values())
    assert pickle.loads(pickle.dumps(samples)) == samples
    q = mp.get_context("spawn").Queue()
    for e in samples:
        q.put(e)
    assert [q.get(timeout=10) for _ in samples] == samples


def test_texts_and_history_rows() -> None:
    assert SAMPLES[ev.Resumed].text == "resumed from /runs/x/last.safetensors at epoch 2, batch 3"
    assert SAMPLES[ev.FoldStarted].text == "fold 2 of 5"
    row = SAMPLES[ev.EpochEnded].row()
    assert row == {"epoch": 1, "train_loss": 1.2, "valid_loss": 1.1, "valid_track_accuracy": 0.5,
                   "valid_segment_accuracy": 0.4, "lr": 1e-3, "seconds": 2.0}  # fmt: skip
    assert ev.EpochEnded.from_row(row, 3, 1) == SAMPLES[ev.EpochEnded]
