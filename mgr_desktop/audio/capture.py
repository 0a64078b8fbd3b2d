"""Microphone capture into a ring buffer at the model's sample rate.

The PortAudio callback only copies: no allocation, no logging, no signals. When the device
cannot run at the model rate, the callback fills a raw ring at the device rate and `pump()`
(called by whoever consumes: a ~10 ms timer, or the CLI loop) resamples into the model ring.
"""

from __future__ import annotations

import contextlib

import numpy as np
import soxr

from mgr_desktop.audio.devices import AudioDeviceError, _sounddevice, explain
from mgr_desktop.audio.ringbuffer import RingBuffer


class Capture:
    def __init__(
        self,
        rate: int = 22050,
        device: int | str | None = None,
        seconds: float = 30.0,
        blocksize: int = 512,
    ) -> None:
        self.rate = rate
        self.device = device
        self.ring = RingBuffer(int(seconds * rate))
        self.blocksize = blocksize
        self.overflows = 0
        self.device_rate = rate
        self._raw: RingBuffer | None = None
        self._raw_pos = 0
        self._resampler: soxr.ResampleStream | None = None
        self._stream = None

    @property
    def running(self) -> bool:
        return self._stream is not None

    def start(self) -> None:
        sd = _sounddevice()
        self.stop()
        try:
            sd.check_input_settings(
                device=self.device, channels=1, samplerate=self.rate, dtype="float32"
            )
            self.device_rate = self.rate
        except Exception:
            try:
                info = sd.query_devices(self.device, "input")
            except Exception as e:
                raise AudioDeviceError(_explain(e, self.device)) from None
            self.device_rate = int(info["default_samplerate"])
        target = self.ring
        if self.device_rate != self.rate:
            self._raw = RingBuffer(int(self.device_rate * 4))
            self._raw_pos = 0
            self._resampler = soxr.ResampleStream(self.device_rate, self.rate, 1, dtype="float32")
            target = self._raw

        def callback(indata: np.ndarray, frames: int, t: object, status: object) -> None:
            if status.input_overflow:  # type: ignore[attr-defined]
                self.overflows += 1
            target.write(indata[:, 0])

        try:
            stream = sd.InputStream(
                device=self.device,
                channels=1,
                samplerate=self.device_rate,
                dtype="float32",
                blocksize=self.blocksize,
                callback=callback,
            )
            stream.start()
        except Exception as e:
            raise AudioDeviceError(_explain(e, self.device)) from None
        self._stream = stream

    def pump(self) -> None:
        """Move resampled audio into the model-rate ring; raise if the device has gone."""
        if self._stream is None:
            return
        if not self._stream.active:
            self.stop()
            raise AudioDeviceError("the input device stopped (unplugged or taken by another app)")
        if self._raw is not None and self._resampler is not None:
            block, self._raw_pos = self._raw.since(self._raw_pos)
            if len(block):
                self.ring.write(self._resampler.resample_chunk(block))

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # already gone with its device
                stream.abort()
                stream.close()

    def level_db(self, seconds: float = 0.1) -> float:
        x = self.ring.latest(int(seconds * self.rate))
        rms = float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0
        return 20 * np.log10(max(rms, 1e-6))


def _explain(e: Exception, device: object) -> str:
    return explain(e, "input", device)
