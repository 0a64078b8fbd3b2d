"""Play a decoded track through sounddevice, with pause, seek and a position to follow."""

from __future__ import annotations

import contextlib

import numpy as np
import soxr

from mgr_desktop.audio.devices import AudioDeviceError, _sounddevice


class Player:
    def __init__(self, device: int | str | None = None) -> None:
        self.device = device
        self._wave = np.zeros(0, np.float32)
        self._rate = 22050  # rate of the source waveform (positions are in these samples)
        self._out = self._wave
        self._out_rate = self._rate
        self._pos = 0  # in output samples
        self._stream = None
        self.finished = False

    def load(self, wave: np.ndarray, rate: int) -> None:
        self.stop()
        self._wave, self._rate = wave, rate
        self._out, self._out_rate = wave, rate
        self._pos = 0
        self.finished = False

    @property
    def duration(self) -> float:
        return len(self._wave) / self._rate

    @property
    def position(self) -> float:
        """Seconds from the start of the track."""
        return self._pos / self._out_rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    def play(self) -> None:
        if self.playing or not len(self._wave):
            return
        sd = _sounddevice()
        if self.finished:
            self._pos, self.finished = 0, False
        self._prepare_rate(sd)

        def callback(outdata: np.ndarray, frames: int, t: object, status: object) -> None:
            pos = self._pos
            chunk = self._out[pos : pos + frames]
            n = len(chunk)
            outdata[:n, 0] = chunk
            outdata[n:] = 0
            self._pos = pos + n
            if n < frames:
                self.finished = True
                raise sd.CallbackStop

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
            raise AudioDeviceError(f"cannot open the output device: {e}") from None
        self._stream = stream

    def _prepare_rate(self, sd: object) -> None:
        """Play at the source rate when the device takes it, else resample once up front."""
        try:
            sd.check_output_settings(
                device=self.device,
                channels=1,  # type: ignore[attr-defined]
                samplerate=self._rate,
                dtype="float32",
            )
            rate = self._rate
        except Exception:
            rate = int(sd.query_devices(self.device, "output")["default_samplerate"])  # type: ignore[attr-defined]
        if rate != self._out_rate:
            seconds = self.position
            self._out = soxr.resample(self._wave, self._rate, rate).astype(np.float32)
            self._out_rate = rate
            self._pos = int(seconds * rate)

    def pause(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort()
                stream.close()

    def stop(self) -> None:
        self.pause()
        self._pos = 0

    def seek(self, seconds: float) -> None:
        self._pos = int(np.clip(seconds, 0, self.duration) * self._out_rate)
        self.finished = False
