"""Compact CNN after Kunal Vaidya's GTZAN design: stacked conv/BN/ReLU/pool blocks, dropout,
a dense layer, and an N-way head, for 1 x n_mels x frames log-mel input."""

from __future__ import annotations

import itertools

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class GenreCNN(nn.Module):
    def __init__(
        self, n_classes: int, widths: tuple[int, ...] = (16, 32, 64, 128, 256), dropout: float = 0.3
    ) -> None:
        super().__init__()
        chans = (1, *widths)
        self.features = nn.Sequential(*(_block(a, b) for a, b in itertools.pairwise(chans)))
        # Global pooling keeps the head independent of the window length.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(widths[-1], 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))
