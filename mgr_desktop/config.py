"""Feature settings shared by training and inference.

Every checkpoint carries a `FeatureConfig`; inference rebuilds its log-mel front end from the
checkpoint, so a model can never be fed features it was not trained on.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

GTZAN_GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)  # fmt: skip


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel settings: the contract between a model and the audio it sees."""

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist
    segment_seconds: float = 3.0
    # dB with a fixed reference (1.0 = full-scale power), so a quiet passage stays quiet;
    # librosa's ref=np.max would renormalise every window to its own loudest bin.
    ref_power: float = 1.0
    amin: float = 1e-10
    db_floor: float = -100.0
    db_ceiling: float = 40.0
    # (dB - norm_mean) / norm_std: constants, not data statistics, so they cannot drift.
    norm_mean: float = -40.0
    norm_std: float = 20.0

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate < 4000:
            problems.append(f"sample_rate {self.sample_rate} < 4000")
        if self.n_fft < 64 or self.n_fft & (self.n_fft - 1):
            problems.append(f"n_fft {self.n_fft} is not a power of two >= 64")
        if not 0 < self.hop_length <= self.n_fft:
            problems.append(f"hop_length {self.hop_length} not in (0, n_fft]")
        if not 8 <= self.n_mels <= 512:
            problems.append(f"n_mels {self.n_mels} not in [8, 512]")
        if self.segment_seconds <= 0:
            problems.append("segment_seconds must be > 0")
        if self.db_floor >= self.db_ceiling:
            problems.append("db_floor must be below db_ceiling")
        if self.norm_std <= 0:
            problems.append("norm_std must be > 0")
        if problems:
            raise ValueError("invalid feature settings: " + "; ".join(problems))

    @property
    def segment_samples(self) -> int:
        return round(self.segment_seconds * self.sample_rate)

    @property
    def segment_frames(self) -> int:
        """Frames in one window with centred STFT framing: 130 for the defaults."""
        return 1 + self.segment_samples // self.hop_length

    def seconds_to_frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.sample_rate / self.hop_length))

    def frame_to_seconds(self, frame: int) -> float:
        return frame * self.hop_length / self.sample_rate

    @property
    def nyquist(self) -> float:
        return self.sample_rate / 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Build from checkpoint metadata; unknown or mistyped keys are an error, not a guess."""
        if not isinstance(data, dict):
            raise ValueError("feature settings must be a JSON object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown feature settings: {', '.join(unknown)}")
        clean: dict[str, Any] = {}
        for name, value in data.items():
            if value is None and name == "fmax":
                clean[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"feature setting {name!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"feature setting {name!r} must be finite")
            clean[name] = (
                int(value)
                if name in {"sample_rate", "n_fft", "hop_length", "n_mels"}
                else float(value)
            )
        return cls(**clean)
