"""Confidence calibration: one softmax temperature, fitted on validation tracks.

The temperature divides every window's logits before the track verdict is formed (the same
rule as inference, `models.aggregate`), and it is fitted on the track-level probabilities,
because those are what a user reads as "confidence".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from mgr_desktop.models.aggregate import track_log_probs

T_MIN, T_MAX = 0.05, 20.0


def track_probabilities(window_logp: Sequence[torch.Tensor], temperature: float) -> np.ndarray:
    """Per-track probabilities (tracks, classes) from each track's window log-probabilities
    (or logits: a per-row shift does not change the result) at a temperature."""
    return np.stack(
        [
            track_log_probs(torch.log_softmax(w.float() / temperature, -1)).exp().numpy()
            for w in window_logp
        ]
    )


def track_nll(window_logp: Sequence[torch.Tensor], targets: Sequence[int], t: float) -> float:
    p = track_probabilities(window_logp, t)
    return float(-np.log(np.clip(p[np.arange(len(p)), list(targets)], 1e-12, None)).mean())


def fit_temperature(window_logp: Sequence[torch.Tensor], targets: Sequence[int]) -> float:
    """The temperature in [T_MIN, T_MAX] that minimises the validation tracks' NLL: a grid on
    log T, then a golden-section refinement (a 1-D convex-ish problem; no optimiser needed)."""
    if not window_logp:
        return 1.0
    grid = np.exp(np.linspace(np.log(T_MIN), np.log(T_MAX), 41))
    losses = [track_nll(window_logp, targets, t) for t in grid]
    i = int(np.argmin(losses))
    lo, hi = np.log(grid[max(0, i - 1)]), np.log(grid[min(len(grid) - 1, i + 1)])
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if track_nll(window_logp, targets, np.exp(a)) < track_nll(window_logp, targets, np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(probs: np.ndarray, targets: Sequence[int], bins: int = 10) -> float:
    """ECE with equal-width confidence bins: the gap between confidence and accuracy, weighted
    by how many predictions fall in each bin."""
    if len(probs) == 0:
        return 0.0
    conf = probs.max(1)
    correct = probs.argmax(1) == np.asarray(targets)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if inside.any():
            ece += inside.mean() * abs(conf[inside].mean() - correct[inside].mean())
    return float(ece)
