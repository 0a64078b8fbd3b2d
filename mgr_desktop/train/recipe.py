"""Training settings. Defaults follow the seed recipe: AdamW, OneCycle, weight decay 1e-4,
gradient clipping by value 0.1."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# Peak learning rates that train well from scratch (cnn) and from ImageNet weights (resnet18).
DEFAULT_MAX_LR = {"cnn": 3e-3, "resnet18": 1e-3}


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "cnn"
    epochs: int = 30
    batch_size: int = 32
    max_lr: float | None = None  # None: DEFAULT_MAX_LR[arch]
    weight_decay: float = 1e-4
    clip_value: float | None = 0.1
    clip_norm: float | None = None
    seed: int = 0
    device: str = "auto"
    pretrained: bool = True  # resnet18: start from ImageNet weights when available
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

    @property
    def peak_lr(self) -> float:
        return self.max_lr if self.max_lr is not None else DEFAULT_MAX_LR.get(self.arch, 1e-3)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
