"""The live readout: the last 3 s of a ring buffer -> smoothed genre probabilities.

Shared by the window's microphone mode (through the Qt worker) and `mgr-desktop listen`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mgr_desktop.audio.ringbuffer import RingBuffer
from mgr_desktop.inference.engine import (
    NO_SIGNAL_NOTE,
    SILENCE_DBFS,
    Engine,
    level_dbfs,
)
from mgr_desktop.verdict import is_uncertain, verdict_text


@dataclass(frozen=True)
class Readout:
    time: float  # seconds since listening started
    genre: str | None  # None: no signal, or none of the model's genres (`outside`)
    confidence: float  # the genre's; when outside, the closest genre's
    probabilities: dict[str, float]  # smoothed, over the genres
    level_db: float
    outside: bool = False

    @property
    def uncertain(self) -> bool:
        return is_uncertain(self.genre, self.confidence)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]

    def verdict_text(self) -> str:
        return verdict_text(self.genre, self.confidence, self.top(2), self.outside)

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "time": round(self.time, 3),
            "genre": self.genre,
            "confidence": round(self.confidence, 4),
            "uncertain": self.uncertain,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "level_db": round(self.level_db, 1),
            "outside": self.outside,
        }
        if self.outside:
            doc["closest"] = self.top(1)[0][0]
        elif self.genre is None:
            doc["note"] = NO_SIGNAL_NOTE
        return doc


class LiveAnalyzer:
    """Exponentially smoothed probabilities; `smoothing` is the weight of the past."""

    def __init__(self, engine: Engine, smoothing: float = 0.6) -> None:
        self.engine = engine
        self.smoothing = smoothing
        self._smoothed: np.ndarray | None = None
        self._t0 = time.monotonic()

    def reset(self) -> None:
        self._smoothed = None
        self._t0 = time.monotonic()

    def analyze(self, window: np.ndarray, level_db: float) -> Readout:
        now = time.monotonic() - self._t0
        if level_dbfs(window) <= SILENCE_DBFS:  # nothing to judge: no verdict, and forget
            self._smoothed = None
            return Readout(now, None, 0.0, {}, level_db)
        probs = self.engine.classify_segment(window)
        if self._smoothed is None:
            self._smoothed = probs
        else:
            self._smoothed = self.smoothing * self._smoothed + (1 - self.smoothing) * probs
        d = self.engine.decide(self._smoothed / self._smoothed.sum())
        probs = {lab: float(p) for lab, p in zip(self.engine.labels, d.genre_probs, strict=True)}
        return Readout(now, d.genre, d.confidence, probs, level_db, d.outside)

    def analyze_ring(self, ring: RingBuffer, level_db: float) -> Readout:
        return self.analyze(ring.latest(self.engine.cfg.segment_samples), level_db)
