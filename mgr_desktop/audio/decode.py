"""Any audio file -> mono float32 at the model's sample rate.

libsndfile (via soundfile) reads wav, au, aiff, flac, ogg/vorbis, opus and mp3 without any
external program; audioread is a fallback for what it cannot (m4a and friends, when ffmpeg or
GStreamer is installed).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from mgr_desktop.errors import FileError

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".au", ".snd", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga",
     ".opus", ".mp3", ".m4a", ".aac", ".wma", ".caf", ".w64"}
)  # fmt: skip
MIN_SECONDS = 1.0


class AudioDecodeError(FileError):
    """A file that cannot become audio."""


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int
    source_rate: int
    source_channels: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def is_audio_path(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def decode_file(
    path: str | os.PathLike[str], sample_rate: int = 22050, min_seconds: float = MIN_SECONDS
) -> DecodedAudio:
    """Decode, downmix, sanitise and resample one file, or raise AudioDecodeError."""
    p = Path(path)
    _check_file(p)
    try:
        data, rate = _read_soundfile(p)
    except AudioDecodeError as first:
        data, rate = _read_audioread(p, first)
    channels = data.shape[1]
    mono = data[:, 0] if channels == 1 else data.mean(axis=1, dtype=np.float32)
    # NaN/Inf in float files (or from a broken encoder) would poison every window they touch.
    if not np.isfinite(mono).all():
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    if len(mono) < min_seconds * rate:
        raise AudioDecodeError(
            p, f"too short: {len(mono) / rate:.2f} s of audio (at least {min_seconds:g} s needed)"
        )
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return DecodedAudio(np.ascontiguousarray(mono, dtype=np.float32), sample_rate, rate, channels)


def _check_file(p: Path) -> None:
    if p.is_symlink() and not p.exists():
        raise AudioDecodeError(p, f"dangling symbolic link (target {os.readlink(p)} is missing)")
    if not p.exists():
        raise AudioDecodeError(p, "no such file")
    if p.is_dir():
        raise AudioDecodeError(p, "is a folder, not an audio file")
    try:
        with p.open("rb") as f:
            head = f.read(1024)
    except PermissionError:
        raise AudioDecodeError(p, "permission denied (file is not readable)") from None
    except OSError as e:
        raise AudioDecodeError(p, f"cannot read file ({e.strerror or e})") from None
    if not head:
        raise AudioDecodeError(p, "file is empty (0 bytes)")
    kind = _sniff_non_audio(head)
    if kind:
        raise AudioDecodeError(p, f"not audio: the file is {kind}")


def _sniff_non_audio(head: bytes) -> str | None:
    """Name common non-audio content so the message says more than 'format not recognised'."""
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"PK\x03\x04", b"\x80\x02", b"\x80\x04", b"\x80\x05")):
        return "an archive or Python pickle"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "an image"
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text):
            return "text"
    return None


def _read_soundfile(p: Path) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(p) as f:
            claimed = f.frames
            rate = f.samplerate
            if f.subtype == "PCM_16":
                # 16-bit PCM (all of GTZAN): reading int16 and scaling here is 2x faster than
                # libsndfile's own float conversion, and gives identical values.
                pcm = f.read(dtype="int16", always_2d=True)
                data = np.empty(pcm.shape, np.float32)
                np.multiply(pcm, np.float32(1 / 32768), out=data, casting="unsafe")
            else:
                data = f.read(dtype="float32", always_2d=True)
            log = f.extra_info
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioDecodeError(p, _explain_libsndfile(str(e))) from None
    if rate <= 0:
        raise AudioDecodeError(p, f"invalid sample rate {rate} in header")
    promised = _promised_frames(p, log, data.shape[1])
    if len(data) < max(claimed, promised):
        raise AudioDecodeError(
            p,
            f"truncated: header promises {max(claimed, promised) / rate:.2f} s but the file "
            f"holds {len(data) / rate:.2f} s",
        )
    if len(data) == 0:
        raise AudioDecodeError(p, "contains no audio samples")
    return data, rate


_WAV_DATA_SHORT = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_AIFF_COUNT = re.compile(r"Frame count read from 'COMM' chunk \((\d+)\)")


def _promised_frames(p: Path, log: str, channels: int) -> int:
    """Frames the header promises. libsndfile quietly clamps a too-large data size to the file
    length; its log keeps the original (WAV, AIFF). AU logs nothing, so read its size field."""
    m = _WAV_DATA_SHORT.search(log)
    if m and int(m.group(1)) not in _UNKNOWN_SIZES:  # streaming writers leave a placeholder
        block = _block_align(log) or 2 * channels
        return int(m.group(1)) // block
    m = _AIFF_COUNT.search(log)
    if m:
        return int(m.group(1))
    if p.suffix.lower() in {".au", ".snd"}:
        with p.open("rb") as f:
            head = f.read(24)
        if len(head) == 24 and head[:4] == b".snd":
            _offset, size, encoding = struct.unpack(">III", head[4:16])
            width = _AU_SAMPLE_BYTES.get(encoding)
            if size not in _UNKNOWN_SIZES and width:
                return size // (width * channels)
    return 0


_UNKNOWN_SIZES = {0, 0x7FFFFFFF, 0xFFFFFFFF}
_AU_SAMPLE_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}


def _block_align(log: str) -> int:
    m = re.search(r"Block Align\s*:\s*(\d+)", log)
    return int(m.group(1)) if m else 0


def _read_audioread(p: Path, first: AudioDecodeError) -> tuple[np.ndarray, int]:
    """Fallback for containers libsndfile does not know; keeps libsndfile's reason if it fails."""
    if p.suffix.lower() not in {".m4a", ".aac", ".wma", ".mp4"}:
        raise first
    try:
        import audioread

        with audioread.audio_open(str(p)) as f:
            rate, channels = f.samplerate, f.channels
            raw = b"".join(f)
    except Exception as e:  # audioread raises many unrelated types; all mean "cannot decode"
        raise AudioDecodeError(p, f"{first.reason}; no decoder for this format ({e})") from None
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if len(data) == 0:
        raise AudioDecodeError(p, "contains no audio samples")
    return data.reshape(-1, channels), rate


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
