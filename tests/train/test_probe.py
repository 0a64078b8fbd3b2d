"""The transfer architectures: a genre head on frozen musicnn embeddings, trained through the
same `fit` and events as the CNN, calibrated, and usable by the engine (with its tags)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.config import MUSICNN_FEATURES
from mgr_desktop.models.checkpoint import read_info
from mgr_desktop.train import events as ev
from mgr_desktop.train.data import prepare
from mgr_desktop.train.loop import fit
from mgr_desktop.train.recipe import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 generated genres x 12 tracks x 4 s: a probe needs more tracks than segments."""
    from mgr_desktop.train.synthetic import make_corpus

    return make_corpus(
        tmp_path_factory.mktemp("corpus"), n_classes=4, tracks_per_class=12, seconds=4.0, seed=2
    )


@pytest.fixture(scope="module")
def probe_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("MGR_DESKTOP_HOME", str(home))  # the embedding cache lands here
    data = prepare(corpus, "random", seed=0, features_cfg=MUSICNN_FEATURES)[0]
    events: list = []
    config = TrainConfig(arch="musicnn_msd", epochs=20, batch_size=8, max_lr=1e-2, seed=0)
    result = fit(config, data, tmp_path_factory.mktemp("probe"), events.append)
    yield result, events, data, config, home
    mp.undo()


def test_the_probe_learns_generated_genres_and_reports_like_the_loop(probe_run) -> None:
    result, events, _, _, _ = probe_run
    assert result.status == "finished"
    kinds = [type(e) for e in events]
    for kind in (ev.CacheStarted, ev.EpochStarted, ev.BatchProgress, ev.EpochEnded,
                 ev.CheckpointSaved, ev.TestMeasured, ev.FitFinished):  # fmt: skip
        assert kind in kinds, kind
    assert kinds.count(ev.EpochEnded) == 20
    test = result.metrics["test"]
    assert test["track_accuracy"] >= 0.875  # 8 test tracks, 4 classes: chance is 0.25
    assert 0 <= test["ece"] <= 1
    doc = json.loads((result.out_dir / "metrics.json").read_text())
    assert doc["test"]["tracks"] == len(doc["split"]["test"])


def test_the_saved_probe_carries_its_temperature_tags_and_features(probe_run) -> None:
    result, *_ = probe_run
    info = read_info(result.model_path)
    assert info.arch == "musicnn_msd" and info.features == MUSICNN_FEATURES
    assert info.temperature == pytest.approx(result.metrics["temperature"])
    assert info.temperature != 1.0  # fitted, not the default
    assert len(info.tags) == 50 and "rock" in info.tags
    assert info.training["frozen_backbone"] is True


def test_a_second_run_reuses_the_cached_embeddings(probe_run, tmp_path: Path) -> None:
    _, _, data, config, home = probe_run
    entries = list((home / "cache" / "embeddings").rglob("*.npy"))
    assert len(entries) == sum(len(getattr(data.split, p)) for p in ("train", "valid", "test"))
    mtimes = {p: p.stat().st_mtime_ns for p in entries}
    mp = pytest.MonkeyPatch()
    mp.setenv("MGR_DESKTOP_HOME", str(home))
    try:
        again = fit(config, data, tmp_path / "again")
    finally:
        mp.undo()
    assert again.status == "finished"
    assert {p: p.stat().st_mtime_ns for p in entries} == mtimes  # read, not rewritten


def test_the_engine_applies_the_temperature_and_returns_tags(probe_run, corpus) -> None:
    import torch

    from mgr_desktop.inference.engine import Engine

    result, _, _, _, _ = probe_run
    engine = Engine.from_file(result.model_path, "cpu")
    track = sorted(corpus.rglob("*.wav"))[0]
    out = engine.classify_file(track)
    assert out.genre in engine.labels and len(out.tags) == 5
    assert all(0 <= p <= 1 for p in out.tags.values())
    # each segment's probabilities are softmax(logits / T), T as stored in the file
    from mgr_desktop.dsp.mel import cut_segments, normalise

    w, _ = cut_segments(engine.log_mel(_wave(engine, track)), engine.cfg, engine.hop_seconds)
    with torch.inference_mode():
        logits = engine.model(normalise(w, engine.cfg).unsqueeze(1))
    expected = torch.softmax(logits / read_info(result.model_path).temperature, -1).numpy()
    got = np.stack([s.probabilities for s in out.segments])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _wave(engine, path: Path) -> np.ndarray:
    from mgr_desktop.audio.decode import decode_file

    return decode_file(path, engine.cfg.sample_rate).samples
