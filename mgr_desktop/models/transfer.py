"""Genre models on music-pretrained musicnn backbones.

Two linear heads read the backbone's embeddings: a segment head (each 3 s segment: the
timeline and the live readout) and a track head on the mean and spread of the track's segment
embeddings (the verdict), which generalised better across artists in model selection
(training/README.md). Trained frozen (a probe on cached embeddings, seconds per run) or
fine-tuned end to end. The first backbone's music-tag head is kept, so the model can also say
"80s · guitar · male vocalists" beside the genre.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

if TYPE_CHECKING:
    from mgr_desktop.models.musicnn import Musicnn

# Each backbone's constructor settings, as in musicnn 0.1.0.
BACKBONES: dict[str, dict[str, int]] = {
    "MSD_musicnn": {"num_units_backend": 200},  # 500 is MSD_musicnn_big, not shipped
    "MTT_musicnn": {"num_units_backend": 200},
}
# The backbone outputs the genre head reads: pooled mid-level features and the tagging
# network's penultimate layer (chosen by k-fold on GTZAN train+valid; see training/README.md).
LAYERS: tuple[str, ...] = ("mean_pool", "penultimate")
HEAD_DROPOUT = 0.3


def layer_dim(backbone: str, layer: str) -> int:
    """Width of one backbone output: the pools see the front end's 561 channels plus the
    mid-end's 3 x 64."""
    return BACKBONES[backbone]["num_units_backend"] if layer == "penultimate" else 561 + 3 * 64


def _backbone(name: str, pretrained: bool) -> nn.Module:
    from mgr_desktop.models.musicnn import Musicnn, load_pretrained

    if name not in BACKBONES:
        raise ValueError(f"unknown musicnn backbone {name!r}")
    return load_pretrained(name) if pretrained else Musicnn(**BACKBONES[name])


class MusicnnGenre(nn.Module):
    # The buffers registered in __init__ (nn.Module's __getattr__ types them Tensor | Module).
    embed_mean: torch.Tensor
    embed_scale: torch.Tensor
    track_mean: torch.Tensor
    track_scale: torch.Tensor

    def __init__(self, n_classes: int, backbones: Sequence[str], pretrained: bool = False) -> None:
        super().__init__()
        self.backbone_names = tuple(backbones)
        self.backbones = nn.ModuleList(_backbone(n, pretrained) for n in self.backbone_names)
        dim = self.embedding_dim()
        # Standardisation constants, set from the training embeddings (saved with the model).
        self.register_buffer("embed_mean", torch.zeros(dim))
        self.register_buffer("embed_scale", torch.ones(dim))
        self.head = nn.Sequential(nn.Dropout(HEAD_DROPOUT), nn.Linear(dim, n_classes))
        self.register_buffer("track_mean", torch.zeros(2 * dim))
        self.register_buffer("track_scale", torch.ones(2 * dim))
        self.track_head = nn.Linear(2 * dim, n_classes)

    def embedding_dim(self) -> int:
        return sum(layer_dim(n, k) for n in self.backbone_names for k in LAYERS)

    def raw_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1, 96, frames) features -> (batch, dim) concatenated backbone outputs."""
        return self._embed_and_tags(x)[0]

    def _embed_and_tags(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts, tags = [], None
        for b in self.backbones:
            out = cast("Musicnn", b).embed(x)
            parts.extend(out[k] for k in LAYERS)
            if tags is None:
                tags = out["logits"]
        assert tags is not None
        return torch.cat(parts, -1), tags

    def head_logits(self, embedding: torch.Tensor) -> torch.Tensor:
        """Genre logits from raw (unstandardised) embeddings: the probe trains this alone."""
        return self.head((embedding - self.embed_mean) / self.embed_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_logits(self.raw_embedding(x))

    def forward_with_tags(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Genre logits and the first backbone's music-tag logits, in one pass."""
        embedding, tags = self._embed_and_tags(x)
        return self.head_logits(embedding), tags

    def outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Segment genre logits, music-tag logits and raw embeddings (for the track head)."""
        embedding, tags = self._embed_and_tags(x)
        return self.head_logits(embedding), tags, embedding

    def track_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(segments, dim) raw embeddings of one track -> (classes,) verdict logits."""
        return self.track_head((track_statistics(embeddings) - self.track_mean) / self.track_scale)

    def set_standardisation(self, embeddings: torch.Tensor) -> None:
        self.embed_mean.copy_(embeddings.mean(0))
        self.embed_scale.copy_(embeddings.std(0).clamp_min(1e-3))

    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.backbones.parameters())


def track_statistics(embeddings: torch.Tensor) -> torch.Tensor:
    """A track's segment embeddings -> [mean, standard deviation] over its segments."""
    return torch.cat([embeddings.mean(0), embeddings.std(0, unbiased=False)], -1)
