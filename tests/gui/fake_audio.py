"""A stand-in for the sounddevice module's output side: a thread calls the stream's callback
as a device would, `speed` times faster than real time, and keeps what it was given."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np


class CallbackStop(Exception):
    pass


class _Status:
    output_underflow = False


class FakeOutputStream:
    def __init__(self, device: Any, samplerate: float, callback: Any, speed: float, **kw: Any):
        self.device, self.samplerate, self.callback, self.speed = (
            device,
            samplerate,
            callback,
            speed,
        )
        self.channels = kw.get("channels", 1)
        self.blocksize = kw.get("blocksize") or 1024
        self.active = False
        self.frames = 0  # frames the callback has filled
        self.peak = 0.0  # loudest sample it was given
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.active = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.blocksize / self.samplerate / self.speed
        while not self._stop.is_set():
            out = np.full((self.blocksize, self.channels), np.nan, np.float32)
            try:
                self.callback(out, self.blocksize, None, _Status())
            except CallbackStop:
                self.active = False
                return
            assert np.isfinite(out).all(), "the callback left part of the buffer unwritten"
            self.frames += self.blocksize
            self.peak = max(self.peak, float(np.abs(out).max()))
            time.sleep(period)

    def abort(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.active = False

    stop = abort

    def close(self) -> None:
        self.abort()


class FakeSoundDevice:
    """What Player uses of sounddevice. `rates`: the rates the device takes (None: any)."""

    CallbackStop = CallbackStop

    def __init__(self, speed: float = 20.0, rates: set[int] | None = None, default: int = 48000):
        self.speed, self.rates, self.default = speed, rates, default
        self.streams: list[FakeOutputStream] = []

    def check_output_settings(self, samplerate: float = 0, **kw: Any) -> None:
        if self.rates is not None and int(samplerate) not in self.rates:
            raise ValueError(f"invalid sample rate {samplerate}")

    def query_devices(self, device: Any = None, kind: str = "output") -> dict[str, Any]:
        return {"name": "fake", "default_samplerate": float(self.default)}

    def OutputStream(self, **kw: Any) -> FakeOutputStream:  # sounddevice names it so
        stream = FakeOutputStream(speed=self.speed, **kw)
        self.streams.append(stream)
        return stream
