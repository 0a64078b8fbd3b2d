"""What the file table keeps of a classified file: a few hundred bytes, not the full result.

A `TrackResult` holds a probability vector per 3 s segment (numpy views that also pin the
model's output buffers); across a library that grew the window by about 0.5 MB per file. The
table keeps the verdict, the track's probabilities, and per segment only its genre (uint8)
and confidence (float16): enough for the table, the CSV, the genre timeline and the verdict.
The selected file's per-segment probabilities are recomputed when it is selected
(`track_loader.ResultDetails`). No Qt and no torch here: the worker thread makes these.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from mgr_desktop.inference.result_source import source_key
from mgr_desktop.inference.results import FileFailure, TrackResult
from mgr_desktop.verdict import is_uncertain, verdict_text

NO_GENRE = 255  # a segment with no signal
OUTSIDE = 254  # a segment in none of the model's genres


@functools.lru_cache(maxsize=8)
def _shared(labels: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple per model's labels for all its rows (the few models used lately)."""
    return labels


class SegmentSummary(NamedTuple):
    start: float
    end: float
    genre: str | None
    confidence: float
    outside: bool = False


class ResultSummary:
    """The parts of a TrackResult the window keeps for every row."""

    __slots__ = (
        "confidence",
        "duration",
        "genre",
        "labels",
        "note",
        "outside",
        "path",
        "probs",
        "seg_conf",
        "seg_genre",
        "seg_start",
        "seg_window",
        "source",
        "tags",
    )

    def __init__(self, result: Any) -> None:
        self.path: str = result.path
        # The file as its audio was read (the tags are written only into that file).
        self.source = source_key(result) if isinstance(result, TrackResult) else None
        self.genre: str | None = result.genre
        self.confidence = float(result.confidence)
        self.duration = float(result.duration)
        self.note: str = result.note
        self.outside = bool(getattr(result, "outside", False))
        self.tags: dict[str, float] = dict(result.tags) if result.tags else {}
        labels = tuple(result.probabilities)
        self.labels = _shared(labels)
        self.probs = np.array(list(result.probabilities.values()), np.float32)
        segs = result.segments
        index = {lab: i for i, lab in enumerate(self.labels)}
        self.seg_start = np.array([s.start for s in segs], np.float32)
        self.seg_window = max((s.end - s.start for s in segs), default=0.0)
        self.seg_genre = np.array([_segment_code(s, index) for s in segs], np.uint8)
        self.seg_conf = np.array([s.confidence for s in segs], np.float16)

    # -- the same reading API as TrackResult ---------------------------------------------------
    @property
    def probabilities(self) -> dict[str, float]:
        return {lab: float(p) for lab, p in zip(self.labels, self.probs, strict=True)}

    @property
    def uncertain(self) -> bool:
        return is_uncertain(self.genre, self.confidence)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs, kind="stable")[:k]
        return [(self.labels[i], float(self.probs[i])) for i in order]

    def verdict_text(self) -> str:
        return verdict_text(self.genre, self.confidence, self.top(2), self.outside)

    @property
    def segments(self) -> list[SegmentSummary]:
        """Start, end, genre and confidence of each segment (no probability vectors)."""
        return [self.segment(i) for i in range(len(self.seg_start))]

    def segment(self, i: int) -> SegmentSummary:
        start = float(self.seg_start[i])
        g = int(self.seg_genre[i])
        return SegmentSummary(
            start,
            min(start + self.seg_window, self.duration),
            None if g in (NO_GENRE, OUTSIDE) else self.labels[g],
            float(self.seg_conf[i]),
            g == OUTSIDE,
        )

    def segment_index_at(self, seconds: float) -> int:
        """The last segment that starts at or before `seconds` (the first one before any)."""
        return max(0, int(np.searchsorted(self.seg_start, seconds, side="right")) - 1)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.probs, self.seg_start, self.seg_genre, self.seg_conf))


def _segment_code(s: Any, index: dict[str, int]) -> int:
    if s.genre is None:
        return OUTSIDE if getattr(s, "outside", False) else NO_GENRE
    return index.get(s.genre, NO_GENRE)


def summarize(result: TrackResult | FileFailure) -> ResultSummary | FileFailure:
    """TrackResult -> ResultSummary; anything else (a failure) passes through."""
    if isinstance(result, TrackResult):
        return ResultSummary(result)
    return result
