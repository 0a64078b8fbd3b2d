"""libsndfile (soundfile) as a decoder source: WAV, AIFF, AU, CAF, W64, FLAC, Ogg Vorbis/Opus,
whose headers state an exact length, so a shortfall is truncation, never an estimate."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from mgr_desktop.audio.source import AudioDecodeError, Source, UseFFmpeg, downmix

# --- libsndfile -------------------------------------------------------------------------------

# Headers that state an exact length; a shortfall there is truncation, not an estimate.
_EXACT_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "CAF", "FLAC"})


class SndfileSource(Source):
    decoder = "libsndfile"

    def __init__(self, p: Path, head: bytes) -> None:
        self.path = p
        try:
            f = sf.SoundFile(p)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
            raise AudioDecodeError(p, _explain_libsndfile(str(e))) from None
        if f.format == "MP3" or f.subtype.startswith("MPEG"):
            f.close()
            raise UseFFmpeg
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
            yield downmix(data)

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
