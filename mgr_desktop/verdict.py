"""How a verdict reads, in one place for the engine, the live readout, the table's summaries
and the window: the uncertainty threshold, the open-set decision ("none of its genres") and
the verdict text.

No torch and no Qt here: the window imports it before torch loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# A calibrated top probability below this is shown as uncertain, with the two leading genres.
UNCERTAIN_BELOW = 0.5
# Below this RMS level (dBFS) a segment is silence or near-silence: no genre, and no vote.
SILENCE_DBFS = -60.0
OUTSIDE_TEXT = "none of its genres"


def is_uncertain(genre: str | None, confidence: float) -> bool:
    return genre is not None and confidence < UNCERTAIN_BELOW


def verdict_text(
    genre: str | None, confidence: float, top2: list[tuple[str, float]], outside: bool = False
) -> str:
    """'jazz 87%', 'uncertain: jazz 45% or blues 30%', 'none of its genres (closest: jazz)'
    or 'no signal'."""
    if outside:
        return f"{OUTSIDE_TEXT} (closest: {top2[0][0]})" if top2 else OUTSIDE_TEXT
    if genre is None:
        return "no signal"
    if is_uncertain(genre, confidence):
        (g1, p1), (g2, p2) = top2
        return f"uncertain: {g1} {p1:.0%} or {g2} {p2:.0%}"
    return f"{genre} {confidence:.0%}"


def outside_note(closest: str, p_outside: float) -> str:
    return (
        f"{OUTSIDE_TEXT}: the music is unlike every genre this model knows "
        f"({p_outside:.0%} sure; closest: {closest})"
    )


@dataclass(frozen=True)
class Decision:
    """What a probability vector over a model's labels says."""

    genre: str | None  # None when outside
    confidence: float  # the genre's probability; the closest genre's when outside
    outside: bool
    closest: str
    outside_probability: float
    genre_probs: np.ndarray  # over the genres only (the outside label's mass left out)


def decide(
    probs: np.ndarray | Sequence[float], labels: Sequence[str], outside: str = "",
    outside_at: float = 0.5,
) -> Decision:  # fmt: skip
    """The open-set rule: no genre when the outside label is the most likely answer or reaches
    `outside_at`; otherwise the most likely genre. Genre probabilities are joint (they sum to
    1 - p(outside)), so '80 %' keeps meaning 80 % of such songs are that genre."""
    p = np.asarray(probs, np.float64)
    if outside and outside in labels:
        o = list(labels).index(outside)
        p_out = float(p[o])
        genre_p = np.delete(p, o)
        genres = [lab for lab in labels if lab != outside]
    else:
        p_out, genre_p, genres = 0.0, p, list(labels)
    best = int(genre_p.argmax())
    is_out = bool(outside) and bool(p_out >= outside_at or p_out > genre_p[best])
    return Decision(
        None if is_out else genres[best], float(genre_p[best]), is_out, genres[best], p_out,
        genre_p.astype(np.float32),
    )  # fmt: skip
