"""Resume at its edges: a finished run, a damaged state file, the best weights read from disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from mgr_desktop.models.checkpoint import load_model, read_tensors, save_model
from mgr_desktop.models.registry import build_model
from mgr_desktop.train import events as ev
from mgr_desktop.train.data import prepare
from mgr_desktop.train.distributed import Dist
from mgr_desktop.train.loop import MODEL_FILE, STATE_FILE, ResumeError, _best_from_disk, fit
from mgr_desktop.train.recipe import TrainConfig

TWO = TrainConfig(arch="cnn", epochs=2, batch_size=8, crops_per_track=1, seed=3)


@pytest.fixture(scope="module")
def data(small_corpus: Path, feature_cache: Path):
    return prepare(small_corpus, "random", seed=0, cache=feature_cache)[0]


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    assert fit(TWO, data, out).status == "finished"
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def test_resuming_a_finished_run_trains_nothing_and_keeps_the_best_weights(
    data, finished: Path, tmp_path: Path
) -> None:
    """No epoch runs again; the test is taken with the best weights, which after a resume live
    only in model.safetensors: put different weights there and they are the ones kept."""
    run = _copy(finished, tmp_path)
    before = json.loads((run / "metrics.json").read_text())
    info = load_model(run / MODEL_FILE).info
    torch.manual_seed(99)
    planted = build_model("cnn", len(data.labels)).eval()
    save_model(run / MODEL_FILE, planted, info)
    events: list[ev.Event] = []
    result = fit(TWO, data, run, events.append, resume=True)
    assert result.status == "finished"
    kinds = {type(e) for e in events}
    assert ev.EpochStarted not in kinds and ev.BatchProgress not in kinds
    assert ev.Message("all epochs were already completed") in events
    resumed = next(e for e in events if isinstance(e, ev.Resumed))
    assert resumed.epoch == TWO.epochs
    after = json.loads((run / "metrics.json").read_text())
    assert after["history"] == before["history"] and after["epochs_completed"] == 2
    kept = read_tensors(run / MODEL_FILE)[0]
    for k, v in planted.state_dict().items():
        torch.testing.assert_close(kept[k], v, rtol=0, atol=0)


def test_resume_restores_every_saved_random_generator(
    data, finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop hands the whole saved RNG state (CPU, and CUDA when there is one) to
    state.restore_rng; tests/train/test_state.py checks what that puts back."""
    from mgr_desktop.train import loop, state

    run = _copy(finished, tmp_path)
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(loop, "restore_rng", lambda rng: (seen.append(rng), state.restore_rng(rng)))
    fit(TWO, data, run, resume=True)
    assert len(seen) == 1 and set(seen[0]) >= {"torch"}
    saved = state.load_state(run / STATE_FILE)[0]["rng"]
    assert torch.equal(seen[0]["torch"], saved["torch"])


def test_best_from_disk_reads_the_model_file_and_falls_back_to_the_live_weights(
    data, finished: Path, tmp_path: Path
) -> None:
    torch.manual_seed(7)
    live = build_model("cnn", len(data.labels))
    on_disk = read_tensors(finished / MODEL_FILE)[0]
    got = _best_from_disk(finished, live, Dist())
    assert got.keys() == on_disk.keys()
    assert all(torch.equal(got[k], on_disk[k]) for k in got)
    (tmp_path / "empty").mkdir()
    fallback = _best_from_disk(tmp_path / "empty", live, Dist())
    assert all(torch.equal(fallback[k], v) for k, v in live.state_dict().items())
    next(iter(fallback.values())).add_(1.0)  # a copy, not the live tensors
    assert not torch.equal(next(iter(fallback.values())), next(iter(live.state_dict().values())))


def _garbage(p: Path) -> None:
    p.write_bytes(b"\x00not a safetensors file at all" * 10)


def _truncated(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _a_model_file(p: Path) -> None:
    shutil.copyfile(p.with_name(MODEL_FILE), p)


def _incomplete(p: Path) -> None:
    from mgr_desktop.models.checkpoint import save_tensors

    tensors, meta = read_tensors(p)
    del meta["optimizer"]
    save_tensors(p, tensors, meta)


def _empty(p: Path) -> None:
    p.write_bytes(b"")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_garbage, "not a safetensors"),
        (_truncated, "safetensors"),
        (_empty, "safetensors"),
        (_a_model_file, "not an mgr-desktop training state"),
        (_incomplete, "incomplete training state"),
    ],
    ids=["garbage", "truncated", "empty", "model-file", "incomplete"],
)
def test_a_damaged_state_file_is_a_resume_error(
    data, finished: Path, tmp_path: Path, damage, reason: str
) -> None:
    run = _copy(finished, tmp_path)
    damage(run / STATE_FILE)
    with pytest.raises(ResumeError, match=reason) as e:
        fit(TWO, data, run, resume=True)
    assert str(run / STATE_FILE) in str(e.value)


def test_the_cli_refuses_a_corrupt_state_file_in_one_line(
    small_corpus: Path, feature_cache: Path, finished: Path, tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    _truncated(run / STATE_FILE)
    proc = subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "train", "--data", str(small_corpus), "--out",
         str(run), "--cache", str(feature_cache), "--arch", "cnn", "--epochs", "2",
         "--batch-size", "8", "--device", "cpu", "--resume"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("mgr-desktop: error: ") and "last.safetensors" in last
