"""Training settings. Defaults follow the seed recipe: AdamW, OneCycle, weight decay 1e-4,
gradient clipping by value 0.1."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mgr_desktop.models.registry import DEFAULT_ARCH, get_architecture


@dataclass(frozen=True)
class TrainConfig:
    arch: str = DEFAULT_ARCH
    epochs: int = 30
    batch_size: int = 32
    max_lr: float | None = None  # None: the architecture's default (models.registry)
    weight_decay: float = 1e-4
    clip_value: float | None = 0.1
    clip_norm: float | None = None
    seed: int = 0
    device: str = "auto"
    pretrained: bool = True  # start from the architecture's pretrained weights when it has them
    # Transfer architectures: train only the genre head on the frozen pretrained network (a
    # probe, on cached embeddings), or fine-tune everything (False).
    freeze_backbone: bool = True
    # Weight the loss by inverse genre frequency, so small genres count as much as large ones.
    balance_classes: bool = True
    # Inverse regularisation of the track head's logistic regression (transfer probes);
    # 0.01 generalised best across artists in model selection (training/README.md).
    track_head_c: float = 0.01
    crops_per_track: int = 1  # random 3 s crops of each training track per epoch
    time_masks: int = 1
    time_mask_frames: int = 20
    freq_masks: int = 1
    freq_mask_bins: int = 16
    mixup_alpha: float = 0.0  # 0: off
    eval_hop_seconds: float = 1.5

    def __post_init__(self) -> None:
        if self.clip_value is not None and self.clip_norm is not None:
            raise ValueError("clip by value or by norm, not both")
        if self.epochs < 1 or self.batch_size < 1 or self.crops_per_track < 1:
            raise ValueError("epochs, batch size and crops per track must be at least 1")
        if self.max_lr is not None and not self.max_lr > 0:
            raise ValueError("max learning rate must be > 0")
        if self.weight_decay < 0:
            raise ValueError("weight decay must be >= 0")
        get_architecture(self.arch)  # unknown names fail here, with the list of known ones

    @property
    def peak_lr(self) -> float:
        return (
            self.max_lr if self.max_lr is not None else get_architecture(self.arch).default_max_lr
        )

    @property
    def probe(self) -> bool:
        """Train a head on cached embeddings of a frozen pretrained backbone."""
        arch = get_architecture(self.arch)
        return arch.transfer and self.freeze_backbone and self.pretrained

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
