"""Decoding in processes forked before torch is imported, for the CLI's batches.

Why processes: PyAV runs Python for every packet and frame it decodes, holding the GIL, so a
decoding thread slows the threads that run the model; and processes forked before torch is
imported decode the first files while torch loads (1.3 s here), when the second core would
otherwise wait (with the exit change in cli.entry, 34 songs took 7.1-7.8 s instead of 8.7-9.0:
benchmarks/RESULTS.md). Linux only: fork starts them cheaply there, and macOS and Windows
have no safe fork; there `start` gives None and the engine decodes in its threads as before.

What crosses back is `track_audio.read_track`'s value: the same function the engine runs in
its threads, so a file's verdict does not depend on where it was decoded.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mgr_desktop.atomic import FileIdentity, identity
from mgr_desktop.config import FeatureConfig
from mgr_desktop.inference.track_audio import TrackAudio, read_track

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# One process decodes ahead of the two model threads: decoding is under half the work, and
# with two the 34 songs took 0.35-0.4 s longer in each of three alternated pairs.
WORKERS = 1

Job = tuple[FeatureConfig, int, float]  # features, sampled segments, block seconds


class DecodePool:
    """`workers` decoding processes, and the files given to them ahead of the engine."""

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_child_setup,
            initargs=(os.getpid(),),
        )  # fmt: skip
        self._pool.submit(int)  # a fork context starts every worker at the first submit: now
        log.info("decoding in %d process%s", workers, "" if workers == 1 else "es")
        self._early: dict[str, tuple[Job, FileIdentity | None, Future[TrackAudio | None]]] = {}
        self._broken = False

    @classmethod
    def start(cls, workers: int = WORKERS) -> DecodePool | None:
        """The pool, or None where it would not help or cannot be safely forked: not Linux,
        torch already imported, or other threads running (a lock one of them holds would
        stay held in the child forever)."""
        if not sys.platform.startswith("linux") or "torch" in sys.modules:
            return None
        if threading.active_count() > 1:
            return None
        try:
            return cls(workers)
        except OSError as e:  # no processes left, no /dev/shm: decode in threads
            log.warning("decoding in threads: cannot start decoding processes (%s)", e)
            return None

    def prefetch(
        self, paths: Iterable[str | os.PathLike[str]], job: Job
    ) -> list[Future[TrackAudio | None]]:
        """Start decoding these files now, before the engine asks (while torch loads); the
        decodings started."""
        started = []
        for p in paths:
            name = os.fspath(p)
            key = identity(name)  # before decoding: what a later `read` must still find
            fut = self._submit(name, job)
            if fut is not None:
                self._early[name] = (job, key, fut)
                started.append(fut)
        return started

    def read(self, path: str | os.PathLike[str], job: Job) -> Future[TrackAudio | None] | None:
        """The file's audio, decoding in a process; None when the pool has broken (a process
        died), for the caller to decode it itself. A prefetched file is reused only when the
        settings match and the file is unchanged since its decoding began."""
        name = os.fspath(path)
        early = self._early.pop(name, None)
        if early is not None:
            early_job, key, fut = early
            if early_job == job and key is not None and key == identity(name):
                return fut
            fut.cancel()
        return self._submit(name, job)

    def close(self) -> None:
        for _job, _key, fut in self._early.values():
            fut.cancel()
        self._early.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, name: str, job: Job) -> Future[TrackAudio | None] | None:
        try:
            return self._pool.submit(read_track, name, *job)
        except BrokenProcessPool:
            if not self._broken:
                log.warning("a decoding process died: decoding in threads from here on")
            self._broken = True
        except RuntimeError:  # shut down
            pass
        return None


def _child_setup(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the batch and closes the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A parent killed outright (SIGKILL) cannot close the pool: the kernel ends the children.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)
