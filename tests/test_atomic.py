"""SIGINT and SIGTERM wait for the file write under way, then stop the run; temporary files have
short names, whatever the target's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mgr_desktop.atomic import (
    Interrupted,
    TempFile,
    hold_signals,
    interrupt_on_signals,
    write_bytes_atomic,
)

# Windows has a SIGTERM, but os.kill with it ends the process at once.
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_waits_for_the_write_then_stops_the_run(signum: int, tmp_path: Path) -> None:
    target = tmp_path / "song.flac"
    target.write_bytes(b"original")
    steps: list[str] = []
    with pytest.raises(Interrupted) as caught, interrupt_on_signals():
        with TempFile.create(tmp_path, ".tagtmp") as tmp:
            Path(tmp.path).write_bytes(b"tagged")
            os.kill(os.getpid(), signum)  # delivered now, acted on after the rename
            steps.append("still writing")
            tmp.commit(target)
            steps.append("renamed")
        steps.append("never")
    assert caught.value.signum == signum
    assert steps == ["still writing", "renamed"]
    assert target.read_bytes() == b"tagged" and names(tmp_path) == ["song.flac"]


def test_a_write_that_fails_after_a_signal_removes_its_copy(tmp_path: Path) -> None:
    with (
        pytest.raises(Interrupted) as caught,
        interrupt_on_signals(),
        TempFile.create(tmp_path, ".tagtmp") as tmp,
    ):
        Path(tmp.path).write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        raise OSError(28, "No space left on device")
    assert isinstance(caught.value.__context__, OSError)  # the run stops; the copy is gone
    assert names(tmp_path) == []


def test_hold_signals_covers_nested_writes_and_their_bookkeeping(tmp_path: Path) -> None:
    done: list[str] = []
    with pytest.raises(Interrupted), interrupt_on_signals(), hold_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        write_bytes_atomic(tmp_path / "a", b"1")  # its own release must not stop the run
        done.append("line printed, result cached")
    assert done == ["line printed, result cached"]
    assert (tmp_path / "a").read_bytes() == b"1"


def test_the_previous_handlers_come_back(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with interrupt_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_temporary_names_are_short_whatever_the_target(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 255)
    write_bytes_atomic(target, b"data")
    assert target.read_bytes() == b"data" and names(tmp_path) == [target.name]
