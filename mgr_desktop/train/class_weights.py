"""Loss weights per genre: the one rule the full loop, the probe and distillation share."""

from __future__ import annotations

import torch

from mgr_desktop.train.recipe import TrainConfig


def class_weights(y: torch.Tensor, n_classes: int, config: TrainConfig) -> torch.Tensor:
    """Inverse-frequency weights (1 for a balanced set), so a genre with 10 tracks counts as
    much as one with 100: GTZAN and its test are balanced even where a user's copy is not."""
    if not config.balance_classes:
        return torch.ones(n_classes)
    counts = torch.bincount(y.cpu(), minlength=n_classes).float()
    return torch.where(counts > 0, len(y) / (n_classes * counts.clamp_min(1)), 0.0)
