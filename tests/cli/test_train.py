"""`mgr-desktop train` / `evaluate` as processes: kill -9 and resume, torchrun, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mgr_desktop.models.checkpoint import load_model, read_tensors


def _train_cmd(corpus: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mgr_desktop",
        "train",
        "--data",
        str(corpus),
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--batch-size",
        "4",
        "--device",
        "cpu",
        "--arch",  # the loop's mechanics on the from-scratch CNN; a later --arch in extra wins
        "cnn",
        *extra,
    ]


def _epochs_done(out: Path) -> int:
    return json.loads((out / "metrics.json").read_text())["epochs_completed"]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_completes_every_epoch(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    epochs = 20
    proc = subprocess.Popen(
        _train_cmd(small_corpus, out, feature_cache, "--epochs", str(epochs)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in proc.stdout:  # the child prints "epoch   N/M ..." as each epoch ends
            if line.startswith("epoch ") and int(line.split()[1].split("/")[0]) >= 2:
                break
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed_at = _epochs_done(out)
    assert 2 <= killed_at < epochs
    load_model(out / "model.safetensors")  # what a kill leaves behind is usable
    done = subprocess.run(
        _train_cmd(small_corpus, out, feature_cache, "--epochs", str(epochs), "--resume"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert f"resumed from {out / 'last.safetensors'}" in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == epochs
    assert [r["epoch"] for r in metrics["history"]] == list(range(1, epochs + 1))
    assert metrics["test"]["tracks"] > 0


def test_same_seed_same_run_across_processes(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    """Seeded and deterministic on CPU: two separate processes train identical models."""
    runs = []
    for name in ("a", "b"):
        subprocess.run(
            _train_cmd(small_corpus, tmp_path / name, feature_cache, "--epochs", "2"),
            check=True,
            capture_output=True,
            timeout=600,
        )
        runs.append(json.loads((tmp_path / name / "metrics.json").read_text())["history"])
    assert [h["train_loss"] for h in runs[0]] == [h["train_loss"] for h in runs[1]]
    assert [h["valid_loss"] for h in runs[0]] == [h["valid_loss"] for h in runs[1]]
    wa = read_tensors(tmp_path / "a" / "model.safetensors")[0]
    wb = read_tensors(tmp_path / "b" / "model.safetensors")[0]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_with_gloo(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "mgr_desktop",
        *_train_cmd(small_corpus, out, feature_cache, "--epochs", "2")[3:],
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # only rank 0 reports and writes
    assert proc.stdout.count("epoch   1/2") == 1 and proc.stdout.count("test: ") == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    assert metrics["test"]["tracks"] == len(metrics["split"]["test"])  # gathered from both ranks
    load_model(out / "model.safetensors")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda p: p / "missing", "no such folder"),
        (lambda p: p, "no genre folders"),
    ],
)
def test_train_on_a_bad_folder_exits_2_with_the_reason(tmp_path: Path, setup, reason: str) -> None:
    proc = subprocess.run(
        _train_cmd(setup(tmp_path), tmp_path / "out", tmp_path / "c"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert reason in proc.stderr and "Traceback" not in proc.stderr


def test_evaluate_reports_the_same_metrics(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    subprocess.run(
        _train_cmd(small_corpus, out, feature_cache, "--epochs", "1"),
        check=True,
        capture_output=True,
        timeout=600,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "evaluate", "--model", str(out / "model.safetensors"),
         "--data", str(small_corpus), "--format", "json"],
        capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    trained = json.loads((out / "metrics.json").read_text())["test"]
    for key in ("track_accuracy", "segment_accuracy", "macro_f1"):
        assert report[key] == pytest.approx(trained[key]), key
    assert (report["confusion"], report["labels"]) == (trained["confusion"], trained["labels"])


def test_kfold_reports_mean_and_std_and_keeps_a_model(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kfold"
    proc = subprocess.run(
        _train_cmd(
            small_corpus, out, feature_cache, "--epochs", "1", "--split", "kfold", "--folds", "3"
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        "track_accuracy: " in proc.stdout and "± " in proc.stdout and "over 3 folds" in proc.stdout
    )
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["folds"] == 3 and len(summary["kfold"]["track_accuracy"]["folds"]) == 3
    tested = set()
    for i in (1, 2, 3):
        fold = json.loads((out / f"fold-{i}" / "metrics.json").read_text())
        tested |= set(fold["split"]["test"])
    assert len(tested) == 24  # every track tested exactly once across the folds
    load_model(out / "model.safetensors")
