"""Distillation: a compact student learns a musicnn teacher's view of generated genres from
soft targets on labelled and unlabelled audio, reports like the loop, and saves a model file
the app loads."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mgr_desktop.config import MUSICNN_FEATURES
from mgr_desktop.dsp.mel import cut_segments, normalise
from mgr_desktop.models.checkpoint import load_model
from mgr_desktop.train import events as ev
from mgr_desktop.train.data import prepare
from mgr_desktop.train.distill import DistillConfig, apply_gain, distill_loss, fit_distilled
from mgr_desktop.train.probe import fit_probe
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.splits import Split

pytestmark = pytest.mark.slow
HOP = 0.5  # 4 s tracks: four teacher positions each


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    from mgr_desktop.train.synthetic import make_corpus, synth_track

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small CNN: one thread is as fast, and kinder to a shared CPU
    mp = pytest.MonkeyPatch()
    mp.setenv("MGR_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))  # caches land here
    corpus = make_corpus(
        tmp_path_factory.mktemp("corpus"), n_classes=4, tracks_per_class=8, seconds=4.0, seed=3
    )
    # Unlabelled songs: more of the same music without labels, one of them twice (a copy).
    songs = tmp_path_factory.mktemp("songs")
    rng = np.random.default_rng(7)
    for i in range(4):
        sf.write(songs / f"song{i}.wav", synth_track(i, 4, 8.0, rng), 22050, subtype="PCM_16")
    shutil.copy(songs / "song0.wav", songs / "song0-copy.wav")
    unlabelled = sorted(str(p) for p in songs.iterdir())

    data = prepare(corpus, "random", seed=0, features_cfg=MUSICNN_FEATURES)[0]
    teacher_cfg = TrainConfig(
        arch="musicnn_msd", epochs=20, batch_size=8, max_lr=1e-2, eval_hop_seconds=HOP
    )
    _status, teacher, *_ = fit_probe(teacher_cfg, data, Path("/unused"), lambda e: None, None)
    # The student sees the training tracks (with labels) and the songs, never valid or test.
    blind = replace(data, split=Split(data.split.train, [], [], name="train-only"))
    events: list[dict] = []
    config = TrainConfig(arch="cnn_fast", epochs=8, batch_size=16, eval_hop_seconds=HOP, seed=0)
    distill = DistillConfig(hop_seconds=HOP, shift_seconds=0.25, max_segments_per_song=6)
    out = tmp_path_factory.mktemp("student")
    result = fit_distilled(
        config, teacher, blind, unlabelled, out, events.append, distill=distill, temperature=1.5
    )
    yield result, events, data, teacher
    mp.undo()
    torch.set_num_threads(threads)


def test_distillation_runs_and_reports_like_the_loop(run) -> None:
    result, events, data, _ = run
    assert result.status == "finished"
    kinds = [type(e) for e in events]
    for kind in (ev.EpochStarted, ev.BatchProgress, ev.EpochEnded, ev.CheckpointSaved,
                 ev.FitFinished):  # fmt: skip
        assert kind in kinds, kind
    assert kinds.count(ev.EpochEnded) == 8
    d = result.metrics["distillation"]
    assert d["labelled_tracks"] == len(data.split.train)
    assert d["unlabelled_files"] == 4  # five files, one an identical copy
    assert d["unlabelled_segments"] == 4 * 6  # 8 s songs at a 0.5 s hop, capped at 6 each
    soft = [row["train_soft_loss"] for row in result.metrics["history"]]
    assert soft[-1] < 0.5 * soft[0], soft


def test_the_student_agrees_with_the_teacher_on_held_out_segments(run) -> None:
    result, _, data, teacher = run
    loaded = load_model(result.model_path)
    assert loaded.info.arch == "cnn_fast" and loaded.info.features == MUSICNN_FEATURES
    assert loaded.info.temperature == pytest.approx(1.5)
    assert loaded.info.training["distillation"]["unlabelled_files"] == 4
    student = loaded.model
    teacher.eval()
    agree = total = 0
    with torch.inference_mode():
        for t in [*data.split.valid, *data.split.test]:
            feats = torch.from_numpy(data.features[str(t.path)].astype(np.float32))
            windows, _ = cut_segments(feats, MUSICNN_FEATURES, HOP)
            x = normalise(windows, MUSICNN_FEATURES).unsqueeze(1)
            agree += int((student(x).argmax(1) == teacher(x).argmax(1)).sum())
            total += len(x)
    assert total >= 24
    assert agree / total >= 0.75, (agree, total)


def test_gain_is_exact_and_the_loss_is_zero_when_student_equals_teacher() -> None:
    power = torch.rand(2, 96, 10) * 1e-3
    feats = torch.log10(1 + MUSICNN_FEATURES.log_gain * power)
    louder = apply_gain(feats, MUSICNN_FEATURES, torch.tensor([6.0, -6.0]))
    gain = torch.tensor([10**0.6, 10**-0.6]).view(2, 1, 1)
    expected = torch.log10(1 + MUSICNN_FEATURES.log_gain * power * gain)
    torch.testing.assert_close(louder, expected, rtol=1e-4, atol=1e-5)
    z = torch.randn(5, 4)
    _, soft, _ = distill_loss(z, z, torch.full((5,), -1), torch.ones(5), 2.0, 0.5)
    assert float(soft) == pytest.approx(0.0, abs=1e-6)
