"""Qt wrappers that run the engine on worker threads. The UI thread never waits for the model.

FileWorker loads models and analyses files; LiveWorker turns 3 s windows into readouts. Each
lives on its own QThread and is driven by queued signals; torch is first imported there, so the
window can appear before it loads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)


class FileWorker(QObject):
    backend_ready = Signal()
    model_loaded = Signal(object, str)  # Engine, device description
    model_failed = Signal(str, str)  # path, reason
    file_started = Signal(str)
    file_done = Signal(str, object)  # path, TrackResult
    file_failed = Signal(str, str)  # path, reason
    track_loaded = Signal(str, object, object, int)  # path, wave, dB (n_mels, frames), rate
    track_failed = Signal(str, str)
    batch_finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.engine: Any = None
        self._mel: Any = None
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: stop after the current file."""
        self._cancel.set()

    @Slot()
    def warm_up(self) -> None:
        import torch  # noqa: F401  (the expensive import, off the UI thread)

        from mgr_desktop.inference import engine  # noqa: F401

        self.backend_ready.emit()

    @Slot(str, str)
    def load_model(self, path: str, device: str) -> None:
        from mgr_desktop.device import DeviceUnavailableError, describe
        from mgr_desktop.inference.engine import Engine
        from mgr_desktop.models.checkpoint import CheckpointError

        try:
            engine = Engine.from_file(path, device or "auto")
        except (CheckpointError, DeviceUnavailableError) as e:
            self.model_failed.emit(path, getattr(e, "reason", str(e)))
            return
        except Exception as e:  # a broken file must never take the app down
            log.exception("loading %s", path)
            self.model_failed.emit(path, f"{type(e).__name__}: {e}")
            return
        self.engine = engine
        self.model_loaded.emit(engine, describe(engine.device))

    @Slot(list)
    def classify(self, paths: list[str]) -> None:
        from mgr_desktop.inference.engine import FileFailure

        self._cancel.clear()
        engine = self.engine
        if engine is None:
            return
        # One pass over the batch, so decoding the next files overlaps the model (as in the CLI).
        if paths:
            self.file_started.emit(paths[0])
        for i, result in enumerate(engine.classify_files(paths)):
            if isinstance(result, FileFailure):
                self.file_failed.emit(result.path, result.error)
            else:
                self.file_done.emit(result.path, result)
            if self._cancel.is_set():
                break
            if i + 1 < len(paths):
                self.file_started.emit(paths[i + 1])
        self.batch_finished.emit()

    @Slot(str)
    def load_track(self, path: str) -> None:
        """Waveform and whole-track log-mel for the detail view and playback (no model needed)."""
        import torch

        from mgr_desktop.audio.decode import AudioDecodeError, decode_file
        from mgr_desktop.dsp.display import display_config
        from mgr_desktop.dsp.mel import LogMel

        cfg = display_config()  # the picture's own settings, whatever the model's features
        if self._mel is None:
            self._mel = LogMel(cfg)
        try:
            audio = decode_file(path, cfg.sample_rate)
        except AudioDecodeError as e:
            self.track_failed.emit(path, e.reason)
            return
        with torch.inference_mode():
            db = self._mel(torch.from_numpy(audio.samples)).numpy()
        self.track_loaded.emit(path, audio.samples, db, cfg.sample_rate)


class LiveWorker(QObject):
    readout = Signal(object)  # Readout
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.analyzer: Any = None
        self.busy = False  # read by the UI thread to drop windows rather than queue them

    def set_engine(self, engine: Any) -> None:
        from mgr_desktop.inference.live import LiveAnalyzer

        self.analyzer = LiveAnalyzer(engine) if engine is not None else None

    @Slot(object, float)
    def analyze(self, window: np.ndarray, level_db: float) -> None:
        try:
            if self.analyzer is not None:
                self.readout.emit(self.analyzer.analyze(window, level_db))
        except Exception as e:
            log.exception("live analysis")
            self.failed.emit(f"{type(e).__name__}: {e}")
        finally:
            self.busy = False
