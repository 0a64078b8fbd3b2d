"""Play a track through sounddevice, streamed from its file: pause, seek, and a position to
follow.

A reader thread decodes the file in short blocks into a bounded buffer (BUFFER_SECONDS); the
output callback only copies from that buffer. Seeking starts a fresh reader at the position
(`open_audio(start_seconds=...)`), so a two-hour file plays and seeks with the same few
hundred kilobytes of memory as a song, and opening it decodes nothing until Play.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from mgr_desktop.audio.devices import AudioDeviceError, _sounddevice, explain

log = logging.getLogger(__name__)

BUFFER_SECONDS = 2.0  # decoded ahead of the playhead, at most
READ_BLOCK_SECONDS = 0.25  # the reader decodes this much at a time


class _Feed:
    """One run of the reader from one position: a bounded ring with one writer (the reader
    thread) and one reader (the output callback). Each side moves only its own counter, and an
    int store is atomic under the GIL, so neither takes a lock."""

    def __init__(self, start: int, capacity: int) -> None:
        self.start = start  # output frame where this run begins
        self.capacity = capacity
        self._buf = np.zeros(capacity, np.float32)
        self.written = 0  # frames the reader has put in, in all
        self.taken = 0  # frames the callback has played, in all
        self.decoded = 0  # frames the reader has decoded (written or waiting to be)
        self.eof = False
        self.error = ""
        self.stop = threading.Event()

    @property
    def buffered(self) -> int:
        return self.written - self.taken

    def write(self, x: np.ndarray) -> int:
        """Copy as much of x as fits; returns how much."""
        n = min(len(x), self.capacity - self.buffered)
        if n <= 0:
            return 0
        i = self.written % self.capacity
        first = min(n, self.capacity - i)
        self._buf[i : i + first] = x[:first]
        self._buf[: n - first] = x[first:n]
        self.written += n
        return n

    def take(self, out: np.ndarray) -> int:
        """Copy up to len(out) buffered frames into out; returns how many."""
        n = min(len(out), self.buffered)
        if n <= 0:
            return 0
        i = self.taken % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._buf[i : i + first]
        out[first:n] = self._buf[: n - first]
        self.taken += n
        return n


class _FileSource:
    """A file, decoded from any position at any rate."""

    def __init__(self, path: str | Path, rate: int) -> None:
        self.path, self.rate = Path(path), rate

    def blocks(self, start_seconds: float, rate: int, block_seconds: float) -> Iterator[np.ndarray]:
        from mgr_desktop.audio.stream import open_audio

        with open_audio(self.path, rate, start_seconds=start_seconds) as audio:
            yield from audio.blocks(block_seconds)


class _ArraySource:
    """A waveform already in memory (tests, short clips)."""

    def __init__(self, wave: np.ndarray, rate: int) -> None:
        self.wave, self.rate = np.ascontiguousarray(wave, np.float32), rate

    def blocks(self, start_seconds: float, rate: int, block_seconds: float) -> Iterator[np.ndarray]:
        x = self.wave[round(start_seconds * self.rate) :]
        step = max(1, int(block_seconds * self.rate))
        if rate == self.rate:
            for i in range(0, len(x), step):
                yield x[i : i + step]
            return
        r = soxr.ResampleStream(self.rate, rate, 1, dtype="float32")
        for i in range(0, len(x), step):
            yield r.resample_chunk(x[i : i + step], last=i + step >= len(x))


class Player:
    """`backend` is the sounddevice module or a stand-in with the same OutputStream API
    (tests pass a fake device); None loads sounddevice on first play."""

    def __init__(self, device: int | str | None = None, backend: Any = None) -> None:
        self.device = device
        self.backend = backend
        self._source: _FileSource | _ArraySource | None = None
        self._rate = 22050  # the source's rate
        self._duration = 0.0
        self._out_rate = self._rate
        self._at = 0.0  # position in seconds while not streaming
        self._feed: _Feed | None = None
        self._reader: threading.Thread | None = None
        self._stream: Any = None
        self.finished = False
        self.underruns = 0  # callbacks that found the buffer empty before the end
        self.error = ""  # why the last run stopped early ("" if it did not)

    # -- what to play -------------------------------------------------------------------------
    def open(self, path: str | Path, duration: float | None, rate: int) -> None:
        """Stream `path` (whose source rate is `rate`); nothing is decoded until play().
        `duration` may be the header's estimate; set_duration() corrects it later."""
        self.stop()
        self._source = _FileSource(path, rate)
        self._rate, self._out_rate = rate, rate
        self._duration = float(duration or 0.0)
        self.finished, self.error = False, ""

    def load(self, wave: np.ndarray, rate: int) -> None:
        """Play a waveform held in memory."""
        self.stop()
        self._source = _ArraySource(wave, rate)
        self._rate, self._out_rate = rate, rate
        self._duration = len(wave) / rate
        self.finished, self.error = False, ""

    def unload(self) -> None:
        self.stop()
        self._source, self._duration = None, 0.0

    def set_duration(self, seconds: float) -> None:
        self._duration = float(seconds)

    @property
    def loaded(self) -> bool:
        return self._source is not None

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def position(self) -> float:
        """Seconds from the start of the track."""
        feed = self._feed
        if feed is None:
            return self._at
        return (feed.start + feed.taken) / self._out_rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    # -- for tests and diagnostics: how much is decoded ahead of the playhead ----------------
    @property
    def buffer_frames(self) -> int:
        return int(BUFFER_SECONDS * self._out_rate)

    @property
    def decoded_ahead(self) -> int:
        """Frames decoded but not yet played (at most the buffer plus one read block)."""
        feed = self._feed
        return 0 if feed is None else feed.decoded - feed.taken

    @property
    def decoded_frames(self) -> int:
        """Frames the current run has decoded since it started (at its seek position)."""
        feed = self._feed
        return 0 if feed is None else feed.decoded

    # -- transport ----------------------------------------------------------------------------
    def play(self) -> None:
        if self.playing or self._source is None:
            return
        sd = self.backend or _sounddevice()
        self.pause()  # a stream that ended by itself: close it (the position stays)
        if self.finished:
            self._at, self.finished = 0.0, False
        self._out_rate = self._pick_rate(sd)
        self.error = ""
        self._start_feed(self._at)

        def callback(outdata: np.ndarray, frames: int, t: object, status: object) -> None:
            feed = self._feed
            n = feed.take(outdata[:, 0]) if feed is not None else 0
            if n < frames:
                outdata[n:] = 0
                if feed is not None and feed.eof and feed.buffered == 0:
                    self.finished = True
                    self.error = feed.error
                    raise sd.CallbackStop
                self.underruns += 1

        try:
            stream = sd.OutputStream(
                device=self.device,
                channels=1,
                samplerate=self._out_rate,
                dtype="float32",
                callback=callback,
            )
            stream.start()
        except Exception as e:
            self._stop_feed()
            raise AudioDeviceError(explain(e, "output", self.device)) from None
        self._stream = stream

    def _pick_rate(self, sd: Any) -> int:
        """The source's rate when the device takes it, else the device's own; the reader
        resamples to it as it decodes."""
        try:
            sd.check_output_settings(
                device=self.device, channels=1, samplerate=self._rate, dtype="float32"
            )
            return self._rate
        except Exception:
            pass
        try:
            return int(sd.query_devices(self.device, "output")["default_samplerate"])
        except Exception as e:
            raise AudioDeviceError(explain(e, "output", self.device)) from None

    def pause(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort()
                stream.close()
        if self._feed is not None:
            self._at = self.position
        self._stop_feed()

    def stop(self) -> None:
        self.pause()
        self._at = 0.0

    def seek(self, seconds: float) -> None:
        top = self._duration if self._duration > 0 else float("inf")
        seconds = float(np.clip(seconds, 0.0, top))
        self.finished = False
        if self._feed is not None and self.playing:
            self._start_feed(seconds)  # the callback moves on to the new run at once
        else:
            self._stop_feed()
            self._at = seconds

    # -- the reader ---------------------------------------------------------------------------
    def _start_feed(self, seconds: float) -> None:
        assert self._source is not None
        rate = self._out_rate
        feed = _Feed(round(seconds * rate), self.buffer_frames)
        old, self._feed = self._feed, feed
        if old is not None:
            old.stop.set()
        self._reader = threading.Thread(
            target=_read, args=(feed, self._source, rate), name="playback-reader", daemon=True
        )
        self._reader.start()

    def _stop_feed(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.stop.set()


def _read(feed: _Feed, source: _FileSource | _ArraySource, rate: int) -> None:
    """The reader thread: decode from feed.start into the ring, waiting while it is full."""
    try:
        for block in source.blocks(feed.start / rate, rate, READ_BLOCK_SECONDS):
            feed.decoded += len(block)
            while len(block):
                if feed.stop.is_set():
                    return
                n = feed.write(block)
                block = block[n:]
                if len(block):
                    feed.stop.wait(0.02)  # full: the callback drains it in real time
            if feed.stop.is_set():
                return
    except Exception as e:  # AudioDecodeError has a reason; anything else, its name
        feed.error = getattr(e, "reason", None) or f"{type(e).__name__}: {e}"
        log.warning("playback of %s stopped: %s", getattr(source, "path", "audio"), feed.error)
    finally:
        feed.eof = True
