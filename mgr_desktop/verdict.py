"""How a verdict reads, in one place for the engine, the table's summaries and the window.

No torch and no Qt here: the window imports it before torch loads.
"""

from __future__ import annotations

# A calibrated top probability below this is shown as uncertain, with the two leading genres.
UNCERTAIN_BELOW = 0.5


def is_uncertain(genre: str | None, confidence: float) -> bool:
    return genre is not None and confidence < UNCERTAIN_BELOW


def verdict_text(genre: str | None, confidence: float, top2: list[tuple[str, float]]) -> str:
    """'jazz 87%', 'uncertain: jazz 45% or blues 30%', or 'no signal'."""
    if genre is None:
        return "no signal"
    if is_uncertain(genre, confidence):
        (g1, p1), (g2, p2) = top2
        return f"uncertain: {g1} {p1:.0%} or {g2} {p2:.0%}"
    return f"{genre} {confidence:.0%}"
