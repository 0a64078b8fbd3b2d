"""What classifying a file gives: a TrackResult (verdict, probabilities, segments, notes) or
a FileFailure (the file and why). Torch-free: the result cache, the window's summaries, tag
writing and the command line's output read them without loading the model's libraries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mgr_desktop.verdict import is_uncertain, verdict_text


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    genre: str | None  # None: no signal in this segment, or none of the model's genres
    confidence: float  # 0 for no signal; the closest genre's when outside
    probabilities: np.ndarray = field(repr=False)  # over the genres (joint with "outside")
    outside: bool = False


@dataclass(frozen=True)
class TrackResult:
    path: str
    genre: str | None  # None: no verdict (see `note` and `outside`)
    confidence: float  # the genre's probability; when outside, the closest genre's
    probabilities: dict[str, float]  # over the model's genres; they sum to 1 - p(outside)
    segments: list[Segment]
    duration: float
    note: str = ""
    tags: dict[str, float] = field(default_factory=dict)  # top music tags, when the model has them
    outside: bool = False  # none of the model's genres (an open-set model's verdict)
    outside_probability: float = 0.0
    sampled: bool = False  # from spread segments (a long file): `segments` are only those

    @property
    def uncertain(self) -> bool:
        return is_uncertain(self.genre, self.confidence)

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "path": self.path,
            "genre": self.genre,
            "confidence": round(self.confidence, 6),
            "uncertain": self.uncertain,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "genre": s.genre,
                 "confidence": round(s.confidence, 6)}
                for s in self.segments
            ],
            "duration": round(self.duration, 3),
            "outside": self.outside,
        }  # fmt: skip
        if self.outside:
            doc["closest"] = self.closest
        if self.outside_probability:
            doc["outside_probability"] = round(self.outside_probability, 6)
        if self.tags:
            doc["tags"] = {k: round(v, 4) for k, v in self.tags.items()}
        if self.note:
            doc["note"] = self.note
        return doc

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]

    @property
    def closest(self) -> str | None:
        """The most likely genre, also when the verdict is "none of its genres"."""
        return self.top(1)[0][0] if self.probabilities else None

    def verdict_text(self) -> str:
        return verdict_text(self.genre, self.confidence, self.top(2), self.outside)


@dataclass(frozen=True)
class FileFailure:
    path: str
    error: str

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "error": self.error}
