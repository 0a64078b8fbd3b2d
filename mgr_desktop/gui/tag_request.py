"""One classified file as the tag writer needs it, whatever the result type that carried it:
a `TrackResult` from the engine, the window's `ResultSummary`, or a request made here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mgr_desktop.atomic import FileIdentity
from mgr_desktop.audio.genre_tags import Verdict
from mgr_desktop.gui.row_summary import ResultSummary
from mgr_desktop.inference.result_source import source_key
from mgr_desktop.inference.results import TrackResult


@dataclass(frozen=True)
class TagRequest:
    """One classified file as the dialog needs it (a TrackResult works just as well).
    Without probabilities no second genre is offered."""

    path: str
    genre: str | None
    confidence: float
    probabilities: Mapping[str, float] = field(default_factory=dict)
    outside: bool = False  # none of the model's genres: never tagged
    # The file as its audio was read for the verdict: a file changed since is refused.
    source: FileIdentity | None = None


def tag_request(r: Verdict) -> TagRequest:
    if isinstance(r, TagRequest):
        return r
    probabilities = getattr(r, "probabilities", None) or {}
    source = r.source if isinstance(r, ResultSummary) else None
    if isinstance(r, TrackResult):
        source = source_key(r)
    return TagRequest(
        r.path,
        r.genre,
        float(r.confidence),
        {str(k): float(v) for k, v in probabilities.items()},
        bool(getattr(r, "outside", False)),
        source,
    )
