"""Feature settings shared by training and inference.

Every checkpoint carries a `FeatureConfig`; inference rebuilds its log-mel front end from the
checkpoint, so a model can never be fed features it was not trained on.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

# The model's arithmetic (device.pick_precision); here so the CLI can offer it without torch.
PRECISION_CHOICES = ("auto", "float32", "bfloat16", "int8")

GTZAN_GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)  # fmt: skip


COMPRESSIONS = ("db", "log10_1p")
MAX_N_FFT = 16384
# n_mels x frames in one analysis window: 30 s at the defaults fits, an hour does not.
MAX_WINDOW_CELLS = 2**18
_FLOAT_FIELDS = (
    "fmin", "fmax", "segment_seconds", "ref_power", "amin", "db_floor", "db_ceiling",
    "norm_mean", "norm_std", "log_gain",
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
    # How mel power becomes the model's input: "db" (10·log10, clamped to the dB range above,
    # then normalised) or "log10_1p" (log10(1 + log_gain·power), musicnn's front end; the
    # network normalises its own input, so no clamp or normalisation follows).
    compression: str = "db"
    log_gain: float = 10000.0

    def __post_init__(self) -> None:
        # Bounds that keep any model file's settings cheap and finite (issue 13): a model file
        # is input from a stranger, and these numbers size every buffer inference allocates.
        problems = [
            f"{name} must be finite"
            for name in _FLOAT_FIELDS
            if getattr(self, name) is not None and not math.isfinite(getattr(self, name))
        ]
        if not problems:
            problems = [message for ok, message in self._checks() if not ok]
        if not problems and self.n_mels * self.segment_frames > MAX_WINDOW_CELLS:
            problems.append(
                f"one window is {self.n_mels} mels x {self.segment_frames} frames, "
                f"more than {MAX_WINDOW_CELLS} values"
            )
        if problems:
            raise ValueError("invalid feature settings: " + "; ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        """(holds, what it says when it does not), one per bound."""
        fmax = self.nyquist if self.fmax is None else self.fmax
        return [
            (4000 <= self.sample_rate <= 192000,
             f"sample_rate {self.sample_rate} not in [4000, 192000]"),
            (64 <= self.n_fft <= MAX_N_FFT and not self.n_fft & (self.n_fft - 1),
             f"n_fft {self.n_fft} is not a power of two in [64, {MAX_N_FFT}]"),
            (0 < self.hop_length <= self.n_fft and self.hop_length * 16 >= self.n_fft,
             f"hop_length {self.hop_length} not in [n_fft/16, n_fft]"),
            (8 <= self.n_mels <= 512, f"n_mels {self.n_mels} not in [8, 512]"),
            (0.5 <= self.segment_seconds <= 30,
             f"segment_seconds {self.segment_seconds} not in [0.5, 30]"),
            (0 <= self.fmin < fmax <= self.nyquist,
             f"need 0 <= fmin < fmax <= {self.nyquist:g} Hz (Nyquist)"),
            (0 < self.amin <= 1, "amin must be in (0, 1]"),
            (0 < self.ref_power <= 1e12, "ref_power must be in (0, 1e12]"),
            (-1000 <= self.db_floor < self.db_ceiling <= 1000,
             "need -1000 <= db_floor < db_ceiling <= 1000"),
            (abs(self.norm_mean) <= 1000, "norm_mean must be in [-1000, 1000]"),
            (1e-6 <= self.norm_std <= 1e6, "norm_std must be in [1e-6, 1e6]"),
            (self.compression in COMPRESSIONS,
             f"compression {self.compression!r} not one of {', '.join(COMPRESSIONS)}"),
            (0 < self.log_gain <= 1e12, "log_gain must be in (0, 1e12]"),
        ]  # fmt: skip

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
    def floor_value(self) -> float:
        """The feature value of silence: what padding fills in."""
        return self.db_floor if self.compression == "db" else 0.0

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
            if name == "compression":
                if not isinstance(value, str):
                    raise ValueError(f"feature setting 'compression' must be text, got {value!r}")
                clean[name] = value
                continue
            if value is None and name == "fmax":
                clean[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"feature setting {name!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"feature setting {name!r} must be finite")
            if name in {"sample_rate", "n_fft", "hop_length", "n_mels"}:
                if not isinstance(value, int):  # 2048.9 is an error, not 2048
                    raise ValueError(f"feature setting {name!r} must be an integer, got {value!r}")
                clean[name] = value
            else:
                clean[name] = float(value)
        return cls(**clean)


# musicnn's front end (Pons & Serra 2019): 16 kHz, 512-point FFT, hop 256, 96 mel bands,
# log10(1 + 10000·power). 3 s windows are 188 centred frames; the network pools over time, so
# it takes musicnn's 187-frame patches and these alike.
MUSICNN_FEATURES = FeatureConfig(
    sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, compression="log10_1p"
)
