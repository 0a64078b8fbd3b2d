"""FFmpeg's decoders (PyAV, whose wheels bundle them) as a decoder source: mp3, m4a/AAC/ALAC,
WMA, WebM/Matroska, MP4/MOV audio, AC-3 and the rest, read until the stream ends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from mgr_desktop.audio.sniff import has_vbr_header, mpeg_frame_length
from mgr_desktop.audio.source import AudioDecodeError, Source, sanitise

# --- FFmpeg (PyAV) ----------------------------------------------------------------------------


class FFmpegSource(Source):
    decoder = "ffmpeg"

    def __init__(self, p: Path, head: bytes, kind: str | None) -> None:
        import av  # FFmpeg's libraries: loaded only when a file needs them
        import av.error  # its exception types: av's typed __all__ does not re-export them

        self._av = av
        self.path = p
        try:
            self._c = av.open(str(p), metadata_errors="ignore")
        except av.error.FFmpegError as e:
            raise AudioDecodeError(p, _explain_ffmpeg(e, kind)) from None
        except (OSError, ValueError) as e:
            raise AudioDecodeError(p, f"cannot open file ({e})") from None
        try:
            self._setup(head)
        except BaseException:
            self._c.close()
            raise

    def _setup(self, head: bytes) -> None:
        c = self._c
        if not c.streams.audio:
            others = sorted({s.type for s in c.streams})
            only = f" (only {' and '.join(others)})" if others else ""
            raise AudioDecodeError(self.path, f"contains no audio stream{only}")
        best = c.streams.best("audio")  # typed as any Stream; audio[0] as an AudioStream
        s = best if isinstance(best, self._av.AudioStream) else c.streams.audio[0]
        self._s = s
        cc = s.codec_context
        if cc is None or not cc.sample_rate:
            raise AudioDecodeError(self.path, "unsupported audio encoding (no decoder for it)")
        self._cc = cc
        self.rate = cc.sample_rate
        self.channels = _channel_count(cc.layout)
        fmt = c.format.name.split(",")[0]
        self.codec = f"{fmt} {cc.name}"
        self.is_mp3 = cc.name.startswith("mp3")
        stated = None
        if s.duration and s.time_base:
            stated = float(s.duration * s.time_base)
        elif c.duration:
            stated = c.duration / 1_000_000
        self.estimated_seconds = stated
        # Without a Xing/Info/VBRI header FFmpeg guesses an mp3's length from its bitrate.
        self.trusted_seconds = stated if not self.is_mp3 or has_vbr_header(head) else None
        self.frames_read = 0
        self.damaged = 0
        self.packets = 0
        self.cut_last_frame = False
        self.broken_at: float | None = None
        self.first_error = ""
        self._resamplers: dict[tuple[int, str], object] = {}
        self._trim_at: float | None = None  # after a seek: drop decoded audio before this
        self._t0 = float(s.start_time * s.time_base) if s.start_time and s.time_base else 0.0

    def seek(self, seconds: float) -> float:
        av, s = self._av, self._s
        seconds = max(0.0, seconds)
        self._trim_at = seconds
        self.frames_read = round(seconds * self.rate)  # positions count from the file's start
        try:
            if not s.time_base:
                raise ValueError("no time base")
            offset = (s.start_time or 0) + int(seconds / s.time_base)
            self._c.seek(offset, stream=s, backward=True, any_frame=False)
        except (av.error.FFmpegError, OverflowError, ValueError):
            # No index to seek with (raw ADTS, some streams): decode from the start and drop.
            self._c.seek(0)
            self._clock_from = 0
        else:
            self._clock_from = None
        with contextlib.suppress(AttributeError, av.error.FFmpegError):
            self._cc.flush_buffers()
        return seconds

    def _trim(self, frame: object, chans: list[np.ndarray]) -> list[np.ndarray]:
        """Drop what was decoded before the position a seek asked for."""
        assert self._trim_at is not None
        t = getattr(frame, "time", None)
        if self._clock_from is not None:  # decoding from the start: count the samples
            t = self._clock_from / self.rate
            self._clock_from += len(chans[0])
        elif t is None:  # seeked, but the decoder gives no timestamps: trust the seek
            self._trim_at = None
            return chans
        else:
            t -= self._t0
        skip = round((self._trim_at - t) * self.rate)
        if skip >= len(chans[0]):
            return [c[:0] for c in chans]
        self._trim_at = None
        return [c[skip:] for c in chans] if skip > 0 else chans

    def read(self, frames: int) -> Iterator[np.ndarray]:
        av = self._av
        group = _FrameGroup()
        held = None  # one packet of look-ahead, to know which one is the last
        packets = self._c.demux(self._s)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.error.EOFError):
                packet = None
            except av.error.FFmpegError as e:
                self.broken_at = self.frames_read / self.rate
                self.first_error = self.first_error or str(e)
                packet = None
            if packet is not None and packet.size == 0:
                continue  # PyAV's flush packet at the end (or an empty one): nothing to decode
            if held is not None:
                if packet is None and self.is_mp3 and self._is_cut(held):
                    self.cut_last_frame = True  # decoding it would invent the missing part
                else:
                    yield from self._decode(held, group, frames)
            if packet is None:
                break
            held = packet
        yield from self._decode(None, group, frames)
        for r in self._resamplers.values():  # what a mid-stream rate converter still holds
            yield from self._add(r.resample(None), group, frames)  # type: ignore[attr-defined]
        if group.frames:
            yield group.take()

    def _is_cut(self, packet: object) -> bool:
        data = bytes(packet)  # type: ignore[call-overload]
        expected = mpeg_frame_length(data[:4])
        return expected is not None and len(data) < expected

    # _decode and _add return lists (mostly empty) rather than yield: a generator made per
    # packet and per frame cost more than the decoding of a small Vorbis frame.
    def _decode(self, packet: object, group: _FrameGroup, frames: int) -> list[np.ndarray]:
        """Decode one packet (None: flush) into `group`; the mono blocks it filled, each
        `frames` long or more."""
        av = self._av
        if packet is not None:
            self.packets += 1
        try:
            decoded = self._cc.decode(packet)  # type: ignore[arg-type]
        except av.error.FFmpegError as e:
            self.damaged += 1  # players skip a damaged frame; so do we, and say so
            self.first_error = self.first_error or str(e)
            return []
        out: list[np.ndarray] = []
        for frame in decoded:
            out += self._add(self._at_source_rate(frame), group, frames)
        return out

    def _add(self, decoded: Sequence[object], group: _FrameGroup, frames: int,
             ) -> list[np.ndarray]:  # fmt: skip
        out: list[np.ndarray] = []
        for frame in decoded:
            name, chans = _frame_channels(frame)
            if self._trim_at is not None:
                chans = self._trim(frame, chans)
                if not len(chans[0]):
                    continue
            self.frames_read += len(chans[0])
            if not group.add(name, chans):
                out.append(group.take())
                group.add(name, chans)
            if group.frames >= frames:
                out.append(group.take())
        return out

    def _at_source_rate(self, frame: object) -> list:
        """A stream that changes its rate midway (joined mp3s): bring it back to the first."""
        rate, layout = frame.sample_rate, frame.layout  # type: ignore[attr-defined]
        if rate == self.rate:
            return [frame]
        r = self._resamplers.get((rate, layout.name))
        if r is None:
            r = self._av.AudioResampler("fltp", layout, self.rate)
            self._resamplers[(rate, layout.name)] = r
        return r.resample(frame)  # type: ignore[attr-defined]

    def finish(self, decoded_seconds: float) -> str:
        got = f"decoded the {decoded_seconds:.2f} s that are there"
        if self.frames_read == 0:
            why = f" ({_short(self.first_error)})" if self.first_error else ""
            raise AudioDecodeError(self.path, f"contains no audio samples that decode{why}")
        if self.damaged > max(3, self.packets // 2):
            raise AudioDecodeError(
                self.path,
                f"corrupt audio data: {self.damaged} of {self.packets} frames do not decode "
                f"({_short(self.first_error)})",
            )
        notes = []
        seconds = self.frames_read / self.rate
        if self.cut_last_frame:
            notes.append(f"the last frame was cut off; {got}")
        elif self.broken_at is not None:
            notes.append(f"the file is damaged after {self.broken_at:.2f} s; {got}")
        elif self.trusted_seconds and seconds < self.trusted_seconds - max(
            0.5, 0.01 * self.trusted_seconds
        ):
            notes.append(f"the file ends early (its header promises "
                         f"{self.trusted_seconds:.2f} s); {got}")  # fmt: skip
        if self.damaged:
            notes.append(f"skipped {self.damaged} damaged frame{'s' * (self.damaged > 1)}")
        return "; ".join(notes)

    def close(self) -> None:
        self._c.close()


_SAMPLE_TYPES = {
    "u8": (np.uint8, 1 / 128, 128.0),  # dtype, scale, offset
    "s16": (np.int16, 1 / 32768, 0.0),
    "s32": (np.int32, 1 / 2**31, 0.0),
    "s64": (np.int64, 1 / 2**63, 0.0),
    "flt": (np.float32, 1.0, 0.0),
    "dbl": (np.float64, 1.0, 0.0),
}


def _channel_count(layout: object) -> int:
    n = getattr(layout, "nb_channels", None)  # PyAV >= 13
    return int(n if n is not None else len(layout.channels)) or 1  # type: ignore[attr-defined]


def _frame_channels(frame: object) -> tuple[str, list[np.ndarray]]:
    """One decoded frame as its sample type and one raw array per channel (views, no copy:
    PyAV's to_ndarray() costs more than the decoding of a small frame)."""
    n = frame.samples  # type: ignore[attr-defined]
    fmt = frame.format  # type: ignore[attr-defined]
    planes = frame.planes  # type: ignore[attr-defined]
    if fmt.is_planar:  # a plane per channel
        name = fmt.name[:-1]
        dtype = _SAMPLE_TYPES[name][0]
        return name, [np.frombuffer(p, dtype, n) for p in planes]
    name = fmt.name
    ch = _channel_count(frame.layout)  # type: ignore[attr-defined]
    a = np.frombuffer(planes[0], _SAMPLE_TYPES[name][0], n * ch)
    return name, [a[i::ch] for i in range(ch)]


class _FrameGroup:
    """Decoded frames of one sample type and channel count, downmixed together: one numpy
    pass per block instead of one per 1,024-sample frame."""

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.parts: list[list[np.ndarray]] = []
        self.frames = 0

    def add(self, name: str, chans: list[np.ndarray]) -> bool:
        key = (name, len(chans))
        if self.parts and key != self.key:
            return False  # the format changed midway: take() this group first
        self.key = key
        self.parts.append(chans)
        self.frames += len(chans[0])
        return True

    def take(self) -> np.ndarray:
        assert self.key is not None
        name, channels = self.key
        _dtype, scale, offset = _SAMPLE_TYPES[name]
        acc: np.ndarray | None = None
        for i in range(channels):
            column = [p[i] for p in self.parts]
            x = np.concatenate(column, dtype=np.float32, casting="unsafe")  # a copy, always
            acc = x if acc is None else np.add(acc, x, out=acc)
        assert acc is not None
        if offset:
            acc -= np.float32(offset * channels)
        if scale != 1.0 or channels > 1:
            acc *= np.float32(scale / channels)
        self.parts, self.frames = [], 0
        return sanitise(acc)


def _short(message: str) -> str:
    return message.split("; last error log:")[0].split(": '/")[0].strip()


def _explain_ffmpeg(e: Exception, kind: str | None) -> str:
    text = str(e)
    low = text.lower()
    if "moov atom not found" in low:
        return "corrupt or incomplete MP4/M4A file (its index, the 'moov' box, is missing)"
    if "invalid data" in low:
        if kind is None:
            return "not a recognised audio format (corrupt header or not an audio file)"
        return f"corrupt {kind} file (FFmpeg cannot read its header)"
    if "no such file" in low:
        return "no such file"
    if "permission" in low:
        return "permission denied (file is not readable)"
    return f"cannot decode: {_short(text)}"
