"""Any audio file -> mono float32 blocks at the model's sample rate, with bounded memory.

    with open_audio(path, 22050) as audio:
        for block in audio.blocks():
            ...
        audio.duration, audio.note   # what was decoded; "" or why it is less than the header said

    with open_audio(path, 44100, start_seconds=600.0) as audio:   # from 10 minutes in
        ...

Two decoders, picked by the file's content (not its name): libsndfile (soundfile) for WAV,
AIFF, AU, CAF, W64, FLAC and Ogg Vorbis/Opus, whose headers state an exact length; FFmpeg's
libraries bundled in PyAV's wheels for everything else (mp3, m4a/AAC/ALAC, WMA, WebM/Matroska,
MP4/MOV audio, AC-3, ...), read until the stream ends. Every block goes decode -> downmix ->
NaN/Inf sanitise -> soxr's streaming resampler, so memory does not grow with the file's length.
A file is decoded in full or reported as an error; where it is decoded only in part (an mp3
whose last frame is cut off), `note` says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf
import soxr

from mgr_desktop.audio.sniff import (
    LIBSNDFILE_KINDS,
    has_vbr_header,
    mpeg_frame_length,
    non_audio,
    sniff,
)
from mgr_desktop.errors import FileError

DEFAULT_BLOCK_SECONDS = 10.0
RESAMPLE_QUALITY = "HQ"


class AudioDecodeError(FileError):
    """A file that cannot become audio."""


class AudioStream:
    """One open audio file. Use as a context manager; iterate `blocks()` once."""

    def __init__(
        self, path: Path, sample_rate: int, min_seconds: float = 0.0, start_seconds: float = 0.0
    ) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.min_seconds = min_seconds
        head = _check_file(path)
        kind = sniff(head)
        self._source: _Source = _open_source(path, head, kind)
        # Where the first block starts, in seconds from the start of the file.
        self.start_seconds = 0.0
        if start_seconds > 0:
            try:
                self.start_seconds = self._source.seek(start_seconds)
            except BaseException:
                self._source.close()
                raise
        self.source_rate: int = self._source.rate
        self.source_channels: int = self._source.channels
        self.decoder: str = self._source.decoder  # "libsndfile" or "ffmpeg"
        self.codec: str = self._source.codec  # e.g. "WAV PCM_16", "mp4 aac"
        # What the header says, before decoding (None if unknown; an estimate for some mp3s).
        self.estimated_duration: float | None = self._source.estimated_seconds
        # Seconds decoded at `sample_rate` (from `start_seconds`), final once blocks() has ended.
        self.duration = 0.0
        self.note = ""
        self._started = False

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._source.close()

    def blocks(self, block_seconds: float = DEFAULT_BLOCK_SECONDS) -> Iterator[np.ndarray]:
        """Mono float32 blocks at `sample_rate`, each `block_seconds` long but the last one.
        Raises AudioDecodeError where the file turns out to be corrupt, truncated (a header
        that states an exact length promises more) or shorter than `min_seconds`."""
        if self._started:
            raise RuntimeError("blocks() can be iterated only once per open_audio()")
        self._started = True
        if block_seconds <= 0:
            raise ValueError("block_seconds must be positive")
        out_size = max(1, round(block_seconds * self.sample_rate))
        in_size = max(1, round(block_seconds * self.source_rate))
        resampler = (
            soxr.ResampleStream(
                self.source_rate, self.sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
            )
            if self.source_rate != self.sample_rate
            else None
        )
        pending: list[np.ndarray] = []
        have = 0
        total = 0
        try:
            for mono in self._source.read(in_size):
                y = mono if resampler is None else resampler.resample_chunk(mono)
                if len(y):
                    pending.append(y)
                    have += len(y)
                while have >= out_size:
                    buf = pending[0] if len(pending) == 1 else np.concatenate(pending)
                    block, rest = buf[:out_size], buf[out_size:]
                    pending, have = ([rest] if len(rest) else []), len(rest)
                    total += len(block)
                    yield block
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
                if len(tail):
                    pending.append(tail)
            if pending:
                block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                total += len(block)
                yield block
        finally:
            self.duration = total / self.sample_rate
        self.note = self._source.finish(self.duration)
        if self.duration < self.min_seconds:
            raise AudioDecodeError(
                self.path,
                f"too short: {self.duration:.2f} s of audio "
                f"(at least {self.min_seconds:g} s needed)",
            )


def open_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 22050,
    min_seconds: float = 0.0,
    start_seconds: float = 0.0,
) -> AudioStream:
    """Open one file for streaming, or raise AudioDecodeError with a one-line reason.
    `start_seconds` > 0 starts the blocks there (playback seeking): libsndfile seeks to the
    exact frame; FFmpeg seeks to the packet before it and drops the decoded audio up to it."""
    return AudioStream(Path(path), sample_rate, min_seconds, start_seconds)


# --- checks before any decoder sees the file ------------------------------------------------


def _check_file(p: Path) -> bytes:
    if p.is_symlink() and not p.exists():
        raise AudioDecodeError(p, f"dangling symbolic link (target {os.readlink(p)} is missing)")
    if not p.exists():
        raise AudioDecodeError(p, "no such file")
    if p.is_dir():
        raise AudioDecodeError(p, "is a folder, not an audio file")
    try:
        with p.open("rb") as f:
            head = f.read(4096)
    except PermissionError:
        raise AudioDecodeError(p, "permission denied (file is not readable)") from None
    except OSError as e:
        raise AudioDecodeError(p, f"cannot read file ({e.strerror or e})") from None
    if not head:
        raise AudioDecodeError(p, "file is empty (0 bytes)")
    if sniff(head) is None:
        what = non_audio(head[:1024])
        if what:
            raise AudioDecodeError(p, f"not audio: the file is {what}")
    return head


def _open_source(p: Path, head: bytes, kind: str | None) -> _Source:
    if kind in LIBSNDFILE_KINDS:
        try:
            return _SndfileSource(p, head)
        except _UseFFmpeg:
            return _FFmpegSource(p, head, kind)
        except AudioDecodeError as first:
            # An encoding libsndfile lacks (FLAC or Speex in Ogg, ...): FFmpeg may know it.
            if kind == "ogg" or "unsupported" in first.reason:
                try:
                    return _FFmpegSource(p, head, kind)
                except AudioDecodeError:
                    pass
            raise
    try:
        return _FFmpegSource(p, head, kind)
    except AudioDecodeError as first:
        if kind is not None:
            raise
        # No signature FFmpeg accepts: libsndfile knows a few rarer headers (VOC, PAF, ...).
        try:
            return _SndfileSource(p, head)
        except (AudioDecodeError, _UseFFmpeg):
            raise first from None


def _downmix(x: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> mono by the plain mean: column by column, the same values
    as x.mean(axis=1, dtype=float32), and 10x faster for interleaved stereo."""
    channels = x.shape[1]
    if channels == 1:
        return _sanitise(np.ascontiguousarray(x[:, 0]))
    mono = x[:, 0].copy()
    for i in range(1, channels):
        mono += x[:, i]
    mono /= np.float32(channels)
    return _sanitise(mono)


def _sanitise(x: np.ndarray) -> np.ndarray:
    """Zero NaN and Inf: they would poison every window they touch."""
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return x


class _UseFFmpeg(Exception):
    """libsndfile opened it, but its length for this encoding is an estimate (MPEG)."""


class _Source:
    decoder = ""
    codec = ""
    rate = 0
    channels = 0
    estimated_seconds: float | None = None

    def read(self, frames: int) -> Iterator[np.ndarray]:
        """Mono float32 at the source rate, in pieces of about `frames`."""
        raise NotImplementedError

    def seek(self, seconds: float) -> float:
        """Start read() at `seconds` from the start; returns where it will start."""
        raise NotImplementedError

    def finish(self, decoded_seconds: float) -> str:
        """After read() ends: raise if the file is truncated, else return a note ("" if none)."""
        return ""

    def close(self) -> None:
        pass


# --- libsndfile -------------------------------------------------------------------------------

# Headers that state an exact length; a shortfall there is truncation, not an estimate.
_EXACT_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "CAF", "FLAC"})


class _SndfileSource(_Source):
    decoder = "libsndfile"

    def __init__(self, p: Path, head: bytes) -> None:
        self.path = p
        try:
            f = sf.SoundFile(p)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
            raise AudioDecodeError(p, _explain_libsndfile(str(e))) from None
        if f.format == "MP3" or f.subtype.startswith("MPEG"):
            f.close()
            raise _UseFFmpeg
        self._f = f
        self.rate, self.channels = f.samplerate, f.channels
        self.codec = f"{f.format} {f.subtype}"
        if self.rate <= 0:
            f.close()
            raise AudioDecodeError(p, f"invalid sample rate {self.rate} in header")
        self.frames = f.frames
        self.exact = f.format in _EXACT_FORMATS
        self.estimated_seconds = self.frames / self.rate
        self.read_frames = 0
        if self.exact:
            promised = _promised_frames(head, f.extra_info, self.channels)
            if promised > self.frames:
                f.close()
                raise AudioDecodeError(p, self._truncated(promised, self.frames))
        if self.frames == 0:
            f.close()
            raise AudioDecodeError(p, "contains no audio samples")

    def seek(self, seconds: float) -> float:
        frame = min(round(seconds * self.rate), self.frames)
        try:
            self._f.seek(frame)
        except (sf.LibsndfileError, RuntimeError, ValueError) as e:
            reason = _explain_libsndfile(str(e))
            raise AudioDecodeError(self.path, f"cannot seek: {reason}") from None
        self.read_frames = frame  # the truncation check counts from the file's start
        return frame / self.rate

    def _truncated(self, promised: int, holds: int) -> str:
        return (
            f"truncated: header promises {promised / self.rate:.2f} s but the file "
            f"holds {holds / self.rate:.2f} s"
        )

    def read(self, frames: int) -> Iterator[np.ndarray]:
        f = self._f
        # 16-bit PCM (all of GTZAN): reading int16 and scaling here is 2x faster than
        # libsndfile's own float conversion, and gives identical values.
        pcm16 = f.subtype == "PCM_16"
        while True:
            try:
                if pcm16:
                    pcm = f.read(frames, dtype="int16", always_2d=True)
                    data = np.empty(pcm.shape, np.float32)
                    np.multiply(pcm, np.float32(1 / 32768), out=data, casting="unsafe")
                else:
                    data = f.read(frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as e:
                raise AudioDecodeError(self.path, _explain_libsndfile(str(e))) from None
            if not len(data):
                return
            self.read_frames += len(data)
            yield _downmix(data)

    def finish(self, decoded_seconds: float) -> str:
        if self.exact and self.read_frames < self.frames:
            raise AudioDecodeError(self.path, self._truncated(self.frames, self.read_frames))
        if self.read_frames == 0:
            raise AudioDecodeError(self.path, "contains no audio samples")
        return ""

    def close(self) -> None:
        self._f.close()


_WAV_DATA_SHORT = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_AIFF_COUNT = re.compile(r"Frame count read from 'COMM' chunk \((\d+)\)")
_UNKNOWN_SIZES = {0, 0x7FFFFFFF, 0xFFFFFFFF}
_AU_SAMPLE_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}


def _promised_frames(head: bytes, log: str, channels: int) -> int:
    """Frames the header promises. libsndfile quietly clamps a too-large data size to the file
    length; its log keeps the original (WAV, AIFF). AU logs nothing, so read its size field."""
    m = _WAV_DATA_SHORT.search(log)
    if m and int(m.group(1)) not in _UNKNOWN_SIZES:  # streaming writers leave a placeholder
        block = _block_align(log) or 2 * channels
        return int(m.group(1)) // block
    m = _AIFF_COUNT.search(log)
    if m:
        return int(m.group(1))
    if len(head) >= 24 and head[:4] == b".snd":
        _offset, size, encoding = struct.unpack(">III", head[4:16])
        width = _AU_SAMPLE_BYTES.get(encoding)
        if size not in _UNKNOWN_SIZES and width:
            return size // (width * channels)
    return 0


def _block_align(log: str) -> int:
    m = re.search(r"Block Align\s*:\s*(\d+)", log)
    return int(m.group(1)) if m else 0


def _explain_libsndfile(message: str) -> str:
    low = message.lower()
    # "does not exist": libsndfile's mp3 probe says so for garbage; we already know it exists.
    if any(k in low for k in ("format not recognised", "unknown format", "does not exist")):
        return "not a recognised audio format (corrupt header or not an audio file)"
    if "unspecified internal error" in low or "malformed" in low or "lost sync" in low:
        return "corrupt or truncated audio data"
    if "unsupported" in low:
        return "unsupported audio encoding"
    # "Error opening 'x.wav': <reason>" -> "<reason>"
    reason = message.split("': ", 1)[-1].strip().rstrip(".")
    return f"corrupt or unsupported file: {reason[:1].lower() + reason[1:]}"


# --- FFmpeg (PyAV) ----------------------------------------------------------------------------


class _FFmpegSource(_Source):
    decoder = "ffmpeg"

    def __init__(self, p: Path, head: bytes, kind: str | None) -> None:
        import av  # FFmpeg's libraries: loaded only when a file needs them

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
        s = c.streams.best("audio") or c.streams.audio[0]
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

    def _decode(self, packet: object, group: _FrameGroup, frames: int) -> Iterator[np.ndarray]:
        """Decode one packet (None: flush) into `group`; yield it as mono once it holds
        `frames` or more."""
        av = self._av
        if packet is not None:
            self.packets += 1
        try:
            decoded = self._cc.decode(packet)  # type: ignore[arg-type]
        except av.error.FFmpegError as e:
            self.damaged += 1  # players skip a damaged frame; so do we, and say so
            self.first_error = self.first_error or str(e)
            return
        for frame in decoded:
            yield from self._add(self._at_source_rate(frame), group, frames)

    def _add(self, decoded: list, group: _FrameGroup, frames: int) -> Iterator[np.ndarray]:
        for frame in decoded:
            name, chans = _frame_channels(frame)
            if self._trim_at is not None:
                chans = self._trim(frame, chans)
                if not len(chans[0]):
                    continue
            self.frames_read += len(chans[0])
            if not group.add(name, chans):
                yield group.take()
                group.add(name, chans)
            if group.frames >= frames:
                yield group.take()

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
    ch = _channel_count(frame.layout)  # type: ignore[attr-defined]
    name = fmt.name[:-1] if fmt.is_planar else fmt.name
    dtype = _SAMPLE_TYPES[name][0]
    planes = frame.planes  # type: ignore[attr-defined]
    if fmt.is_planar:
        return name, [np.frombuffer(planes[i], dtype, n) for i in range(ch)]
    a = np.frombuffer(planes[0], dtype, n * ch)
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
        return _sanitise(acc)


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
