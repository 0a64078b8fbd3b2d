"""Loads the selected file's picture and details off the GUI thread, streaming.

`TrackLoader` runs one thread of its own (not the classification worker's, so a selection
shows at once even while a batch runs): it opens the file, says how long the header claims it
is, then decodes it in blocks and sends the whole-track image as it grows (the first part
after the first block). For a long track that image is an overview (`track_image`), and
`request_window()` asks for the full-resolution columns around the playhead, served between
blocks. `ResultDetails` reclassifies the selected file with the active model for the
per-segment probabilities the table does not keep.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from mgr_desktop.dsp.display import display_config

log = logging.getLogger(__name__)

LONG_SECONDS = 600.0  # longer tracks (or of unknown length) get an overview and windows
BLOCK_SECONDS = 5.0  # decoded at a time; the first shows within a fraction of a second
IMAGE_EVERY_S = 0.5  # how often a growing image is sent to the window


@dataclass(frozen=True)
class TrackInfo:
    path: str
    duration: float | None  # the header's claim (None: unknown until decoded)
    source_rate: int
    overview: bool  # True: the image is an overview; ask for windows around the playhead


@dataclass(frozen=True)
class TrackPicture:
    db: np.ndarray  # (n_mels, columns)
    column_seconds: float
    covered: float  # seconds of audio the image holds so far
    done: bool
    duration: float | None  # the decoded length once done, else the header's claim


class TrackLoader(QObject):
    opened = Signal(object)  # TrackInfo
    # Paths travel as Python objects: a name that is not UTF-8 would not survive a Qt string.
    picture = Signal(object, object)  # path, TrackPicture
    window = Signal(object, float, object)  # path, start seconds, dB (n_mels, frames)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cfg = display_config()
        self.frame_seconds = self.cfg.hop_length / self.cfg.sample_rate
        self._cond = threading.Condition()
        self._path: str | None = None
        self._generation = 0
        self._started_generation = 0
        self._window_request: tuple[str, float, float] | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._mel: Any = None
        self.ready = False  # warmed up: the thread runs and has what it needs

    # -- requests (GUI thread) -------------------------------------------------------------
    def load(self, path: str) -> None:
        with self._cond:
            self._path = path
            self._generation += 1
            self._window_request = None
            self._cond.notify()
        self._ensure_thread()

    def cancel(self) -> None:
        with self._cond:
            self._path = None
            self._generation += 1
            self._window_request = None

    def request_window(self, path: str, start: float, seconds: float) -> None:
        with self._cond:
            self._window_request = (path, max(0.0, start), seconds)
            self._cond.notify()
        self._ensure_thread()

    def warm_up(self) -> None:
        """Start the thread and load what it needs (FFmpeg's libraries, the mel filters), so
        that the first file selected shows at once. Call once torch is imported."""
        self._ensure_thread()

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop the thread: it ends between blocks; one still importing at start-up is a
        daemon and is not waited for longer than `timeout`."""
        with self._cond:
            self._stopping = True
            self._generation += 1
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="track-loader", daemon=True)
            self._thread.start()

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        from mgr_desktop.gui.workers import lower_thread_priority

        lower_thread_priority(5)  # below the GUI thread, above a batch (10)
        self._warm()
        while True:
            with self._cond:
                while (
                    not self._stopping
                    and self._window_request is None
                    and (self._path is None or self._started_generation == self._generation)
                ):
                    self._cond.wait()
                if self._stopping:
                    return
                new = self._path is not None and self._started_generation != self._generation
                path, generation = self._path, self._generation
                self._started_generation = generation
            if new and path is not None:
                self._load(path, generation)
            else:
                self._serve_window()

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self._stopping

    def _warm(self) -> None:
        try:
            import av  # noqa: F401  (FFmpeg's libraries: a long first import)

            from mgr_desktop.gui.track_image import ColumnStream

            ColumnStream(self._mel_module()).feed(np.zeros(4 * self.cfg.n_fft, np.float32))
        except Exception:
            log.exception("warming up the track loader")
        freeze_long_lived()
        self.ready = True

    def _mel_module(self) -> Any:
        if self._mel is None:
            from mgr_desktop.dsp.mel import LogMel

            self._mel = LogMel(self.cfg)
        return self._mel

    def _load(self, path: str, generation: int) -> None:
        from mgr_desktop.audio.stream import AudioDecodeError, open_audio
        from mgr_desktop.gui.track_image import (
            OVERVIEW_COLUMNS,
            ColumnStream,
            TrackImage,
            overview_step,
            to_db,
        )

        cfg = self.cfg
        try:
            with open_audio(path, cfg.sample_rate) as audio:
                estimate = audio.estimated_duration
                overview = estimate is None or estimate > LONG_SECONDS
                self.opened.emit(TrackInfo(path, estimate, audio.source_rate, overview))
                mel = self._mel_module()
                if overview:
                    frames = int((estimate or LONG_SECONDS) * cfg.sample_rate / cfg.hop_length)
                    image = TrackImage(cfg.n_mels, OVERVIEW_COLUMNS, overview_step(frames))
                else:
                    image = TrackImage(cfg.n_mels)
                columns = ColumnStream(mel)
                sent_at = 0.0  # the first block is sent at once
                for block in audio.blocks(BLOCK_SECONDS):
                    if not self._current(generation):
                        return
                    image.add(columns.feed(block))
                    if not overview and image.n * self.frame_seconds > 1.5 * LONG_SECONDS:
                        image = image.decimate_to(OVERVIEW_COLUMNS)  # the header was wrong
                        overview = True
                        self.opened.emit(TrackInfo(path, None, audio.source_rate, True))
                    now = time.monotonic()
                    if now - sent_at >= IMAGE_EVERY_S:
                        sent_at = now
                        covered = columns.samples / cfg.sample_rate
                        self._send(path, image, to_db, covered, False, estimate)
                    self._serve_window()
                image.add(columns.finish())
                duration = columns.samples / cfg.sample_rate
        except AudioDecodeError as e:
            if self._current(generation):
                self.failed.emit(path, e.reason)
            return
        except Exception as e:  # a picture must never take the app down
            log.exception("loading %s for display", path)
            if self._current(generation):
                self.failed.emit(path, f"{type(e).__name__}: {e}")
            return
        if self._current(generation):
            self._send(path, image, to_db, duration, True, duration)

    def _send(
        self, path: str, image: Any, to_db: Any, covered: float, done: bool, duration: Any
    ) -> None:
        db = to_db(image.power(), self._mel)
        seconds = image.step * self.frame_seconds
        self.picture.emit(path, TrackPicture(db, seconds, covered, done, duration))

    def _serve_window(self) -> None:
        from mgr_desktop.gui.track_image import window_columns

        with self._cond:
            request, self._window_request = self._window_request, None
        if request is None:
            return
        path, start, seconds = request
        first = int(start / self.frame_seconds)
        try:
            db = window_columns(path, self._mel_module(), first, int(seconds / self.frame_seconds))
        except Exception as e:  # the picture may lack a window; playback goes on
            log.warning("window of %s at %.1f s: %s", path, start, getattr(e, "reason", e))
            return
        self.window.emit(path, first * self.frame_seconds, db)


def freeze_long_lived() -> None:
    """Take every object alive now (modules, torch, librosa, Qt wrappers, a loaded model) out
    of the cyclic garbage collector's full passes. Walking them took ~0.36 s, with every thread
    (the GUI's too) waiting on the interpreter; they live as long as the app anyway. (No
    collection here: run from the loader's thread it deadlocked against a finalizer.)"""
    gc.freeze()


class ResultDetails(QObject):
    """The selected file's full result (per-segment probabilities for the readout while
    playing), on a thread of its own; the table keeps only a summary per row. It comes from
    the result cache where the file's analysis there covers every segment (any file under two
    minutes), else the file is analysed in full once (a long file's verdict was sampled)."""

    ready = Signal(object, object)  # path, TrackResult

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="details")
        self._pending: Future[None] | None = None
        self._generation = 0
        self._cache: Any = None  # the details thread's own connection, opened there

    def request(self, engine: Any, path: str) -> None:
        self.cancel()
        generation = self._generation
        self._pending = self._pool.submit(self._classify, engine, path, generation)

    def cancel(self) -> None:
        self._generation += 1
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def shutdown(self) -> None:
        self.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._cache is not None:  # its lock makes closing from here safe
            self._cache.close()

    def _classify(self, engine: Any, path: str, generation: int) -> None:
        from mgr_desktop.gui.workers import lower_thread_priority
        from mgr_desktop.inference.results import TrackResult

        lower_thread_priority()
        if generation != self._generation:
            return
        try:  # every segment, for the timeline and the readout while playing
            result = self._cached_full(engine, path) or engine.classify_file(path, sampled=False)
        except Exception as e:  # the table already says why a file cannot be read
            log.info("details of %s: %s", path, e)
            return
        if isinstance(result, TrackResult) and generation == self._generation:
            self.ready.emit(path, result)

    def _cached_full(self, engine: Any, path: str) -> Any:
        """The cache's result for this file and model when it has every segment, else None."""
        from mgr_desktop.inference.result_cache import ResultCache, file_key, model_key

        if self._cache is None:
            self._cache = ResultCache()
        if not self._cache.enabled:
            return None
        hit = self._cache.get(model_key(engine), path, file_key(path))
        return hit if hit is not None and not hit.sampled else None
