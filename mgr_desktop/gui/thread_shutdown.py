"""Stopping the window's worker threads at quit, and what becomes of one that will not stop."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Iterable

from PySide6.QtCore import QThread

log = logging.getLogger(__name__)

_abandoned: list[QThread] = []


def stop_threads(threads: Iterable[QThread], timeout_ms: int) -> None:
    """Ask each thread to quit and wait up to `timeout_ms` for it; quitting goes on without a
    thread stuck in a long call (a hung decoder, a slow disk) rather than hanging the app."""
    for thread in threads:
        thread.quit()
        if not thread.wait(timeout_ms):
            log.error(
                "the %s thread did not stop within %.0f s; quitting without it",
                thread.objectName(),
                timeout_ms / 1000,
            )
            _abandon(thread)


def _abandon(thread: QThread) -> None:
    """Keep a thread that would not stop alive until the process ends, then end the process
    without destroying it: Qt aborts (SIGABRT) when a running QThread is destroyed."""
    thread.setParent(None)
    _abandoned.append(thread)
    if len(_abandoned) == 1:
        atexit.register(_exit_if_stuck)


def _exit_if_stuck() -> None:
    if any(t.isRunning() for t in _abandoned):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
