"""Run folders read back without Qt: status, curves, test, k-fold summary, the listing."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from mgr_desktop.train import runs


def _metrics(folder: Path, **doc: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / runs.METRICS_FILE).write_text(json.dumps(doc))
    return folder


HISTORY = [{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.0, "valid_track_accuracy": 0.5,
            "valid_segment_accuracy": 0.4, "lr": 1e-3, "seconds": 1.0}]  # fmt: skip
TEST = {"track_accuracy": 0.75, "segment_accuracy": 0.7, "macro_f1": 0.74, "confusion": [[1]]}


def test_a_run_in_progress_or_stopped_is_stopped_and_resumable(tmp_path: Path) -> None:
    run = _metrics(tmp_path / "run", history=HISTORY, epochs_completed=1, test=None)
    (run / runs.STATE_FILE).write_bytes(b"state")
    back = runs.read_run(run)
    assert back.status == runs.STOPPED and back.resumable and not back.has_model
    assert back.history == HISTORY and back.test is None and back.kfold is None


def test_a_finished_run_with_or_without_a_test_is_finished(tmp_path: Path) -> None:
    tested = _metrics(tmp_path / "a", history=HISTORY, test=TEST, finished=True)
    (tested / runs.STATE_FILE).write_bytes(b"state")
    untested = _metrics(tmp_path / "b", history=HISTORY, test=None, finished=True)
    older = _metrics(tmp_path / "c", history=HISTORY, test=TEST)  # before the "finished" mark
    for folder in (tested, untested, older):
        back = runs.read_run(folder)
        assert back.finished and not back.resumable, folder
    assert runs.read_run(tested).test == TEST


def test_a_finished_kfold_run_is_finished_with_its_mean_and_std(tmp_path: Path) -> None:
    """The k-fold folder has no history or test of its own: metrics.json holds the summary,
    and the curves and test are the kept fold's."""
    summary = {"track_accuracy": {"mean": 0.8, "std": 0.05, "folds": [0.75, 0.85, 0.8]}}
    run = _metrics(tmp_path / "kfold", kfold=summary, folds=3, model_from="fold-2")
    _metrics(runs.fold_dir(run, 2), history=HISTORY, test=TEST, finished=True)
    _metrics(runs.fold_dir(run, 3), history=HISTORY, test=TEST, finished=True)
    back = runs.read_run(run)
    assert back.status == runs.FINISHED and not back.resumable
    assert back.kfold == summary and back.folds == 3 and back.model_from == "fold-2"
    assert back.history == HISTORY and back.test == TEST


def test_a_kfold_run_that_did_not_end_is_stopped(tmp_path: Path) -> None:
    run = tmp_path / "kfold"
    _metrics(runs.fold_dir(run, 1), history=HISTORY, test=TEST, finished=True)
    assert runs.read_run(run).status == runs.STOPPED


def test_unreadable_metrics_are_a_stopped_run_with_nothing_to_show(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / runs.METRICS_FILE).write_text("{not json")
    back = runs.read_run(run)
    assert back.status == runs.STOPPED and back.history == [] and back.test is None
    assert runs.read_run(tmp_path / "missing").status == runs.STOPPED


def test_listing_names_and_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MGR_DESKTOP_HOME", str(tmp_path / "home"))
    base = tmp_path / "runs"
    older = base / runs.run_name("cnn", "random", datetime(2026, 1, 2, 3, 4, 5))
    newer = base / runs.run_name("cnn", "kfold", datetime(2026, 2, 1, 0, 0, 0))
    assert older.name == "2026-01-02_030405_cnn_random"
    for folder in (older, newer, base / "not-a-run"):
        folder.mkdir(parents=True)
    for folder in (older, newer):
        (folder / runs.RUN_FILE).write_text("{}")
    assert runs.list_runs(base) == [newer, older]
    assert runs.list_runs(tmp_path / "nowhere") == []
    (older / runs.MODEL_FILE).write_bytes(b"weights")
    installed = runs.install_model(older)
    assert installed.read_bytes() == b"weights" and installed.stem == older.name
