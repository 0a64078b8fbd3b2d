"""The training job as the Train tab runs it: failures become sentences, never a silent exit."""

from __future__ import annotations

import errno
import queue
import threading
from pathlib import Path

import pytest

from mgr_desktop.train.events import Event, RunEnded, RunFailed
from mgr_desktop.train.runner import TrainJob, TrainProcess, explain_failure, run_job


def _events(job: TrainJob, stop: threading.Event | None = None) -> list[Event]:
    q: queue.Queue = queue.Queue()
    run_job(job, q, stop or threading.Event())
    return [q.get_nowait() for _ in range(q.qsize())]


def test_a_missing_folder_is_an_error_event(tmp_path: Path) -> None:
    events = _events(TrainJob(str(tmp_path / "nope"), str(tmp_path / "run")))
    assert events[-1] == RunFailed(f"{tmp_path / 'nope'}: no such folder")


def test_stop_during_caching_ends_the_run_as_stopped(small_corpus: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    events = _events(
        TrainJob(str(small_corpus), str(tmp_path / "run"), cache=str(tmp_path / "fresh-cache")),
        stop,
    )
    assert events[-1] == RunEnded("stopped", str(tmp_path / "run"))
    assert TrainJob.load(tmp_path / "run").data_root == str(small_corpus)  # Resume knows it


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (MemoryError(), "out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "smaller batch size"),
        (
            OSError(errno.ENOSPC, "No space left on device", "/runs/x/last.safetensors"),
            "disk is full",
        ),
        (PermissionError(errno.EACCES, "Permission denied", "/data/x.wav"), "cannot read or write"),
    ],
)
def test_failures_are_explained(error: BaseException, words: str) -> None:
    assert words in explain_failure(error)


def test_an_unexpected_crash_in_the_loop_is_reported(
    small_corpus: Path, tmp_path: Path, feature_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mgr_desktop.train.loop as loop

    def full_disk(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run"))

    monkeypatch.setattr(loop, "fit", full_disk)
    events = _events(TrainJob(str(small_corpus), str(tmp_path / "run"), cache=str(feature_cache)))
    assert isinstance(events[-1], RunFailed) and "disk is full" in events[-1].text
    assert events[-1].traceback and "OSError" in events[-1].traceback


def test_a_process_killed_from_outside_is_reported_as_failed(tmp_path: Path) -> None:
    """Killed before it could say anything (the out-of-memory killer, say): the window still
    hears how it ended, once."""
    process = TrainProcess(TrainJob(str(tmp_path / "nope"), str(tmp_path / "run")))
    process.proc.kill()
    process.join(30)
    events = process.poll()
    assert events[-1] == RunFailed(
        f"The training process ended unexpectedly (exit code {process.proc.exitcode})."
    )
    assert process.over and process.poll() == []


def test_a_process_reports_its_end_through_the_queue(tmp_path: Path) -> None:
    process = TrainProcess(TrainJob(str(tmp_path / "nope"), str(tmp_path / "run")))
    process.join(60)
    events = process.poll()
    assert events == [RunFailed(f"{tmp_path / 'nope'}: no such folder")] and process.over
