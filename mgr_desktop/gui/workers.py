"""Qt wrappers that run the engine on worker threads. The UI thread never waits for the model.

One owner per thread, each driven only by queued signals: ModelLoader imports torch (so the
window can appear before it loads) and loads models, so a new model never waits behind a
batch; FileWorker analyses batches (cancellable between files); LiveWorker turns 3 s windows
into readouts. A loaded engine reaches the other two through their `set_engine` slots.

A batch leaves the GUI thread room: the file worker runs at a lower priority (a nice value on
Linux, which the decoding threads it starts inherit), its model uses one core fewer than the
machine has, and each result is cut down to what the table keeps (`summarize`) before it
crosses to the GUI thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)


class ModelLoader(QObject):
    backend_ready = Signal()
    model_loaded = Signal(object, str)  # Engine, device description
    model_failed = Signal(str, str)  # path, reason

    @Slot()
    def warm_up(self) -> None:
        import torch  # noqa: F401  (the expensive import, off the UI thread)

        from mgr_desktop.inference import engine  # noqa: F401

        self.backend_ready.emit()

    @Slot(str, str)
    def load_model(self, path: str, device: str) -> None:
        from mgr_desktop.device import DeviceUnavailableError, describe
        from mgr_desktop.inference.engine import Engine
        from mgr_desktop.inference.track_audio import SAMPLE_SEGMENTS
        from mgr_desktop.models.checkpoint import CheckpointError

        try:
            # The CLI's settings (hop, sampling): one verdict per file and model, one cache.
            # A core for the window: the model uses one thread fewer than the machine has.
            engine = Engine.from_file(path, device or "auto", sample_segments=SAMPLE_SEGMENTS,
                                      threads=max(1, (os.cpu_count() or 2) - 1))  # fmt: skip
        except (CheckpointError, DeviceUnavailableError) as e:
            self.model_failed.emit(path, getattr(e, "reason", str(e)))
            return
        except Exception as e:  # a broken file must never take the app down
            log.exception("loading %s", path)
            self.model_failed.emit(path, f"{type(e).__name__}: {e}")
            return
        self.model_loaded.emit(engine, describe(engine.device))


class FileWorker(QObject):
    # Paths travel as Python objects: a name that is not UTF-8 (lone surrogates) would not
    # survive a Qt string.
    file_started = Signal(object)
    file_done = Signal(object, object)  # path, summarize(TrackResult)
    file_failed = Signal(object, str)  # path, reason
    batch_finished = Signal()

    def __init__(self, summarize: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.engine: Any = None
        self.summarize = summarize or (lambda result: result)
        self._cancel = threading.Event()
        self._free = threading.Event()  # cleared while the player plays: analysis waits
        self._free.set()

    def cancel(self) -> None:
        """Thread-safe (a threading.Event, no Qt object touched): stop the running batch
        after the file in hand. Other threads may call this and `hold` directly."""
        self._cancel.set()

    def hold(self, playing: bool) -> None:
        """Thread-safe: while the player plays, no new file is started (the ones in flight
        finish), so two cores and the GIL go to the sound, which must never underrun."""
        if playing:
            self._free.clear()
        else:
            self._free.set()

    def _wait_while_held(self) -> None:
        while not self._free.wait(0.1) and not self._cancel.is_set():
            pass

    @Slot()
    def start(self) -> None:
        lower_thread_priority()  # this thread, and the decoding threads it starts, yield

    @Slot(object)
    def set_engine(self, engine: Any) -> None:
        self.engine = engine

    @Slot(object)
    def classify(self, paths: list[str]) -> None:

        from mgr_desktop.inference.result_cache import ResultCache, cached_classify
        from mgr_desktop.inference.results import FileFailure

        self._cancel.clear()
        engine = self.engine
        if engine is None:
            return
        cache = ResultCache()  # this thread's connection: an unchanged file comes back at once
        try:
            # One pass over the batch, so decoding the next files overlaps the model.
            if paths:
                self.file_started.emit(paths[0])
            for i, result in enumerate(cached_classify(engine, paths, cache)):
                if isinstance(result, FileFailure):
                    self.file_failed.emit(result.path, result.error)
                else:
                    self.file_done.emit(result.path, self.summarize(result))
                del result  # the full result (and the buffers it pins) goes here, not later
                self._wait_while_held()
                if self._cancel.is_set():
                    break
                if i + 1 < len(paths):
                    self.file_started.emit(paths[i + 1])
        finally:
            cache.close()
        self.batch_finished.emit()


def lower_thread_priority(nice: int = 10) -> None:
    """Let the calling thread (and threads it starts later) yield the CPU to the GUI thread.
    Linux keeps a nice value per thread; elsewhere Qt's thread priority does the same."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return
    from PySide6.QtCore import QThread

    thread = QThread.currentThread()
    if thread is not None:
        thread.setPriority(QThread.Priority.LowPriority)


class LiveWorker(QObject):
    readout = Signal(object)  # Readout
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.analyzer: Any = None
        # Set by the UI thread when it sends a window, cleared here when the window is done:
        # the UI drops windows rather than queue them behind a slow model. An Event, because
        # two threads touch it.
        self._in_flight = threading.Event()

    def claim(self) -> bool:
        """From the UI thread: True (and now busy) when no window is being analysed."""
        if self._in_flight.is_set():
            return False
        self._in_flight.set()
        return True

    @Slot(object)
    def set_engine(self, engine: Any) -> None:
        from mgr_desktop.inference.live import LiveAnalyzer

        self.analyzer = LiveAnalyzer(engine) if engine is not None else None

    @Slot()
    def reset(self) -> None:
        """A new listening session: forget the last one's smoothed genres."""
        if self.analyzer is not None:
            self.analyzer.reset()

    @Slot(object, float)
    def analyze(self, window: np.ndarray, level_db: float) -> None:
        try:
            if self.analyzer is not None:
                self.readout.emit(self.analyzer.analyze(window, level_db))
        except Exception as e:
            log.exception("live analysis")
            self.failed.emit(f"{type(e).__name__}: {e}")
        finally:
            self._in_flight.clear()
