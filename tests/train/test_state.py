"""The training state file: random generators saved and restored, CUDA's included."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from mgr_desktop.train import state
from mgr_desktop.train.state import load_state, restore_rng, rng_state, save_state

NO_CUDA = "needs a CUDA GPU (run on the device machine to check exact resume on CUDA)"


def _save(path: Path) -> None:
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    meta = {k: 0 for k in state.REQUIRED if k not in ("optimizer", "scheduler", "scaler", "rng")}
    save_state(path, model=model, optimizer=optimizer, scheduler=scheduler, scaler=None, meta=meta)


def test_the_cpu_generator_resumes_where_it_was(tmp_path: Path) -> None:
    torch.manual_seed(1)
    torch.rand(5)
    _save(tmp_path / "last.safetensors")
    expected = torch.rand(3)
    torch.manual_seed(2)  # a new process would start elsewhere
    restore_rng(load_state(tmp_path / "last.safetensors")[0]["rng"])
    assert torch.equal(torch.rand(3), expected)


class FakeCuda:
    """torch.cuda as seen on a machine with two GPUs in use, on a CPU-only runner."""

    def __init__(self) -> None:
        self.states = [torch.arange(8, dtype=torch.uint8), torch.arange(8, 16, dtype=torch.uint8)]
        self.restored: dict[int, torch.Tensor] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cuda = torch.cuda
        monkeypatch.setattr(cuda, "is_available", lambda: True)
        monkeypatch.setattr(cuda, "is_initialized", lambda: True)
        monkeypatch.setattr(cuda, "device_count", lambda: 2)
        monkeypatch.setattr(cuda, "get_rng_state_all", lambda: [s.clone() for s in self.states])
        monkeypatch.setattr(cuda, "set_rng_state", lambda s, i: self.restored.__setitem__(i, s))


def test_the_cuda_generators_are_saved_and_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCuda()
    fake.install(monkeypatch)
    _save(tmp_path / "last.safetensors")
    rng = load_state(tmp_path / "last.safetensors")[0]["rng"]
    assert [s.tolist() for s in rng["cuda"]] == [s.tolist() for s in fake.states]
    restore_rng(rng)
    assert sorted(fake.restored) == [0, 1]
    assert all(torch.equal(fake.restored[i], fake.states[i]) for i in (0, 1))


def test_a_state_saved_without_cuda_leaves_the_gpu_generators_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(tmp_path / "last.safetensors")  # CUDA not in use here
    fake = FakeCuda()
    fake.install(monkeypatch)
    restore_rng(load_state(tmp_path / "last.safetensors")[0]["rng"])
    assert fake.restored == {}


@pytest.mark.parametrize("key", ["optimizer", "rng", "history", "config"])
def test_an_incomplete_state_is_refused(tmp_path: Path, key: str) -> None:
    from mgr_desktop.models.checkpoint import CheckpointError, read_tensors, save_tensors

    path = tmp_path / "last.safetensors"
    _save(path)
    tensors, meta = read_tensors(path)
    del meta[key]
    save_tensors(path, tensors, meta)
    with pytest.raises(CheckpointError, match=f"incomplete training state \\(no {key}\\)"):
        load_state(path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_the_state_file_of_a_gpu_run_carries_the_cuda_generator(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.loop import fit
    from mgr_desktop.train.recipe import TrainConfig

    data = prepare(small_corpus, "random", seed=0, cache=feature_cache)[0]
    fit(TrainConfig(arch="cnn", epochs=1, batch_size=8, device="cuda"), data, tmp_path / "run")
    meta, _ = load_state(tmp_path / "run" / "last.safetensors")
    assert len(meta["rng"]["cuda"]) == torch.cuda.device_count()
    assert meta["config"]["device"] == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_stop_mid_epoch_then_resume_on_cuda_matches_an_uninterrupted_run(
    small_corpus: Path, feature_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CNN's dropout draws from the GPU's generator: without it in the state file, the
    resumed half-epoch sees other dropout masks and its loss differs."""
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.loop import fit
    from mgr_desktop.train.recipe import TrainConfig

    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    data = prepare(small_corpus, "random", seed=0, cache=feature_cache)[0]
    cfg = TrainConfig(arch="cnn", epochs=3, batch_size=4, crops_per_track=1, seed=5, device="cuda")
    fit(cfg, data, tmp_path / "straight")
    stop = threading.Event()

    from mgr_desktop.train.events import BatchProgress

    def on_event(e: Any) -> None:
        if isinstance(e, BatchProgress) and e.epoch == 1 and e.batch == 1:
            stop.set()

    assert fit(cfg, data, tmp_path / "resumed", on_event, stop).status == "stopped"
    meta, _ = load_state(tmp_path / "resumed" / "last.safetensors")
    assert (meta["epoch"], meta["batch"]) == (1, 2) and "cuda" in meta["rng"]
    fit(cfg, data, tmp_path / "resumed", resume=True)
    a = json.loads((tmp_path / "straight" / "metrics.json").read_text())["history"]
    b = json.loads((tmp_path / "resumed" / "metrics.json").read_text())["history"]
    for ra, rb in zip(a, b, strict=True):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], abs=1e-4), ra["epoch"]
        assert ra["valid_loss"] == pytest.approx(rb["valid_loss"], abs=1e-4), ra["epoch"]


def test_rng_state_on_this_machine_has_the_cpu_generator() -> None:
    saved = rng_state()
    assert isinstance(saved["torch"], torch.Tensor)
    assert ("cuda" in saved) == (torch.cuda.is_available() and torch.cuda.is_initialized())
