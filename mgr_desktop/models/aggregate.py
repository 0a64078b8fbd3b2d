"""From window predictions to a track verdict: the one rule, for inference and evaluation."""

from __future__ import annotations

import torch


def track_log_probs(segment_log_probs: torch.Tensor) -> torch.Tensor:
    """(windows, classes) log-probabilities -> (classes,) for the track: the normalised mean
    of the windows' log-probabilities (a product of likelihoods), so one confident window
    cannot outvote the rest the way a mean of probabilities lets it."""
    return torch.log_softmax(segment_log_probs.mean(0), -1)
