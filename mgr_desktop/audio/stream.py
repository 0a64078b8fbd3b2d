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

import os
import stat
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import soxr

from mgr_desktop.audio.ffmpeg_source import FFmpegSource
from mgr_desktop.audio.sndfile_source import SndfileSource
from mgr_desktop.audio.sniff import (
    LIBSNDFILE_KINDS,
    OggLayout,
    non_audio,
    ogg_layout,
    sniff,
)
from mgr_desktop.audio.source import (  # re-exported: callers import them from here
    AudioDecodeError,
    Source,
    UseFFmpeg,
)

DEFAULT_BLOCK_SECONDS = 10.0
RESAMPLE_QUALITY = "HQ"


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
        self._cut = _ogg_cut(_ogg_layout(path)) if kind == "ogg" else ""
        self._source: Source = _open_source(path, head, kind)
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
        self._spans = 0

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
        pending: list[np.ndarray] = []
        have = 0
        total = 0
        try:
            for y in self._resampled(in_size):
                pending.append(y)
                have += len(y)
                while have >= out_size:
                    buf = pending[0] if len(pending) == 1 else np.concatenate(pending)
                    block, rest = buf[:out_size], buf[out_size:]
                    pending, have = ([rest] if len(rest) else []), len(rest)
                    total += len(block)
                    yield block
            if pending:
                block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                total += len(block)
                yield block
        finally:
            self.duration = total / self.sample_rate
        note = self._source.finish(self.start_seconds + self.duration)  # the file's length
        if self._cut:  # the decoders stop quietly where a cut Ogg file ends
            got = f"decoded the {self.start_seconds + self.duration:.2f} s that are there"
            note = "; ".join(n for n in (note, f"{self._cut}; {got}") if n)
        self.note = note
        if self.duration < self.min_seconds:
            raise AudioDecodeError(
                self.path,
                f"too short: {self.duration:.2f} s of audio "
                f"(at least {self.min_seconds:g} s needed)",
            )

    def span(self, start_seconds: float, seconds: float) -> np.ndarray:
        """`seconds` of audio from `start_seconds` (seeking; fewer where the file ends). One
        open file serves any number of spans; not after blocks()."""
        if self._started:
            raise RuntimeError("span() reads by seeking, which blocks() has ended")
        if start_seconds > 0 or self._spans:  # from the start of a fresh file, no seek
            self.start_seconds = self._source.seek(start_seconds)
        self._spans += 1
        need = max(1, round(seconds * self.sample_rate))
        parts, have = [], 0
        chunks = self._resampled(max(1, round(seconds * self.source_rate)))
        try:
            for y in chunks:
                parts.append(y)
                have += len(y)
                if have >= need:
                    break
        finally:
            chunks.close()  # the decoder's place is set again by the next seek
        return np.concatenate(parts)[:need] if parts else np.zeros(0, np.float32)

    def _resampled(self, in_size: int) -> Generator[np.ndarray, None, None]:
        """The source's audio from where it stands, at `sample_rate`, as it is decoded."""
        resampler = (
            soxr.ResampleStream(
                self.source_rate, self.sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
            )
            if self.source_rate != self.sample_rate
            else None
        )
        for mono in self._source.read(in_size):
            y = mono if resampler is None else resampler.resample_chunk(mono)
            if len(y):
                yield y
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if len(tail):
                yield tail


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


# What a name can be besides a regular file; none of them can be decoded by name (a named
# pipe would block both the sniff's open and the decoder's until someone writes to it).
_NOT_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# Opening never waits: a name swapped for a named pipe since it was checked opens at once.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _check_file(p: Path) -> bytes:
    """The file's first bytes, once it is known to be a regular file that can be read."""
    try:
        _refuse_non_file(p, os.stat(p))
        fd = os.open(p, _OPEN_FLAGS | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if p.is_symlink():
            why = f"dangling symbolic link (target {os.readlink(p)} is missing)"
            raise AudioDecodeError(p, why) from None
        raise AudioDecodeError(p, "no such file") from None
    except PermissionError:
        raise AudioDecodeError(p, "permission denied (file is not readable)") from None
    except OSError as e:
        raise AudioDecodeError(p, f"cannot read file ({e.strerror or e})") from None
    try:
        _refuse_non_file(p, os.fstat(fd))  # what was opened, if the name changed meanwhile
        with os.fdopen(fd, "rb") as f:
            fd = -1
            head = f.read(4096)
    except OSError as e:
        raise AudioDecodeError(p, f"cannot read file ({e.strerror or e})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if not head:
        raise AudioDecodeError(p, "file is empty (0 bytes)")
    if sniff(head) is None:
        what = non_audio(head[:1024])
        if what:
            raise AudioDecodeError(p, f"not audio: the file is {what}")
    return head


def _refuse_non_file(p: Path, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise AudioDecodeError(p, "is a folder, not an audio file")
    if stat.S_ISREG(st.st_mode):
        return
    what = next((name for test, name in _NOT_FILES if test(st.st_mode)), "not a file")
    raise AudioDecodeError(p, f"not a regular file: it is {what}, and only files are read")


def _ogg_layout(p: Path) -> OggLayout | None:
    try:
        fd = os.open(p, _OPEN_FLAGS | getattr(os, "O_CLOEXEC", 0))  # never waits, as above
        with os.fdopen(fd, "rb") as f:
            return ogg_layout(f) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None  # the decoder's own open says why


def _ogg_cut(ogg: OggLayout | None) -> str:
    """Why an Ogg file seems cut short ("" if it does not): as for a cut mp3, what is there
    is decoded and the note says so."""
    if ogg is None or ogg.ended:
        return ""
    if ogg.cut:
        return "the file is cut off in the middle of its last Ogg page"
    return "the Ogg stream has no end-of-stream mark (the file may be cut off)"


def _open_source(p: Path, head: bytes, kind: str | None) -> Source:
    if kind in LIBSNDFILE_KINDS:
        try:
            return SndfileSource(p, head)
        except UseFFmpeg:
            return FFmpegSource(p, head, kind)
        except AudioDecodeError as first:
            # An encoding libsndfile lacks: FFmpeg may know it.
            if "unsupported" in first.reason:
                try:
                    return FFmpegSource(p, head, kind)
                except AudioDecodeError:
                    pass
            raise
    try:
        return FFmpegSource(p, head, kind)
    except AudioDecodeError as first:
        if kind is not None:
            raise
        # No signature FFmpeg accepts: libsndfile knows a few rarer headers (VOC, PAF, ...).
        try:
            return SndfileSource(p, head)
        except (AudioDecodeError, UseFFmpeg):
            raise first from None
