"""Any audio file -> mono float32 at the model's sample rate.

`decode_file()` gives the whole file at once; `open_audio()` (in `stream`) streams it in blocks
with bounded memory. Both are the same code: `decode_file()` joins the stream's blocks. Which
decoder reads a file (libsndfile, or FFmpeg's libraries bundled with PyAV) depends on its
content, not its name; no external program is needed for any format.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgr_desktop.audio.stream import (
    DEFAULT_BLOCK_SECONDS,
    AudioDecodeError,
    AudioStream,
    open_audio,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_BLOCK_SECONDS",
    "MIN_SECONDS",
    "AudioDecodeError",
    "AudioStream",
    "DecodedAudio",
    "decode_file",
    "decode_self_check",
    "is_audio_path",
    "open_audio",
]

# Searched for in folders; a file named directly is decoded whatever its name.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".bwf", ".rf64", ".w64", ".au", ".snd", ".aif", ".aiff", ".aifc", ".caf",
     ".flac", ".ogg", ".oga", ".opus", ".spx", ".mp3", ".mp2", ".mpga", ".m4a", ".m4b", ".mp4",
     ".aac", ".alac", ".3gp", ".mov", ".wma", ".asf", ".webm", ".weba", ".mka", ".ac3", ".eac3",
     ".dts", ".wv", ".ape", ".mpc", ".tta", ".amr"}
)  # fmt: skip
MIN_SECONDS = 1.0


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int
    source_rate: int
    source_channels: int
    note: str = ""  # "" normally; says so when less was decoded than the header promised

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def is_audio_path(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def decode_file(
    path: str | os.PathLike[str], sample_rate: int = 22050, min_seconds: float = MIN_SECONDS
) -> DecodedAudio:
    """Decode, downmix, sanitise and resample one whole file, or raise AudioDecodeError."""
    with open_audio(path, sample_rate, min_seconds) as audio:
        parts = list(audio.blocks())
    samples = np.concatenate(parts) if len(parts) != 1 else parts[0]
    return DecodedAudio(
        np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate,
        audio.source_rate,
        audio.source_channels,
        audio.note,
    )


def decode_self_check() -> str:
    """Encode a 1 s tone as AAC in .m4a and as Opus in .webm with PyAV, decode both through
    decode_file(), and check length and pitch: the installed app decodes these containers with
    no ffmpeg on the machine. Returns a short detail string; raises if anything is wrong."""
    import av

    found = []
    with tempfile.TemporaryDirectory(prefix="mgr-decode-check-") as tmp:
        for name, codec in (("check.m4a", "aac"), ("check.webm", "libopus")):
            path = Path(tmp) / name
            _encode_tone(path, codec, seconds=1.0, rate=48000, freq=440.0)
            audio = decode_file(path, 22050, min_seconds=0.5)
            if abs(audio.duration - 1.0) > 0.05:
                raise ValueError(f"{name}: decoded {audio.duration:.3f} s of a 1 s tone")
            spectrum = np.abs(np.fft.rfft(audio.samples))
            peak = np.fft.rfftfreq(len(audio.samples), 1 / 22050)[spectrum.argmax()]
            if abs(peak - 440.0) > 5:
                raise ValueError(f"{name}: the 440 Hz tone decoded with its peak at {peak:.0f} Hz")
            found.append(f"{path.suffix[1:]} {audio.duration:.1f} s")
    return f"({', '.join(found)}; PyAV {av.__version__})"


def _encode_tone(path: Path, codec: str, seconds: float, rate: int, freq: float) -> None:
    import av

    t = np.arange(int(seconds * rate)) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
