"""One epoch's randomness, drawn up front from (seed, epoch).

Drawing it all at the start of the epoch makes a resumed run identical to an uninterrupted
one: resuming at batch b only needs the epoch number and b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mgr_desktop.train.recipe import TrainConfig


@dataclass
class EpochPlan:
    order: np.ndarray  # (n,) index into the training tracks
    crop_frac: np.ndarray  # (n,) where in the track the crop starts, as a fraction
    time_mask: np.ndarray  # (n, time_masks, 2) start fraction, width
    freq_mask: np.ndarray  # (n, freq_masks, 2)
    mixup_lam: np.ndarray  # (n_batches,)
    mixup_perm_seed: np.ndarray  # (n_batches,)

    def batches(self, batch_size: int) -> list[np.ndarray]:
        return [
            np.arange(i, min(i + batch_size, len(self.order)))
            for i in range(0, len(self.order), batch_size)
        ]


def plan_epoch(
    cfg: TrainConfig, n_tracks: int, epoch: int, rank: int = 0, world: int = 1
) -> EpochPlan:
    rng = np.random.default_rng([cfg.seed, epoch])
    order = np.tile(np.arange(n_tracks), cfg.crops_per_track)
    order = order[rng.permutation(len(order))]
    n = len(order)
    plan = EpochPlan(
        order=order,
        crop_frac=rng.random(n),
        time_mask=np.stack([rng.random((n, cfg.time_masks)),
                            rng.integers(0, cfg.time_mask_frames + 1, (n, cfg.time_masks))], -1),
        freq_mask=np.stack([rng.random((n, cfg.freq_masks)),
                            rng.integers(0, cfg.freq_mask_bins + 1, (n, cfg.freq_masks))], -1),
        mixup_lam=(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha, n) if cfg.mixup_alpha > 0
                   else np.ones(n)),
        mixup_perm_seed=rng.integers(0, 2**31, n),
    )  # fmt: skip
    if world > 1:  # each rank takes an equal share, so every rank runs the same number of steps
        per = n // world
        take = slice(rank * per, (rank + 1) * per)
        plan = EpochPlan(
            plan.order[take],
            plan.crop_frac[take],
            plan.time_mask[take],
            plan.freq_mask[take],
            plan.mixup_lam[take],
            plan.mixup_perm_seed[take],
        )
    return plan


def make_batch(
    features: list[np.ndarray], plan: EpochPlan, idx: np.ndarray, width: int, floor_db: float
) -> torch.Tensor:
    """Random crops in dB, masked with the floor value: (b, n_mels, width)."""
    out = []
    for i in idx:
        feats = features[plan.order[i]]
        frames = feats.shape[-1]
        if frames < width:
            feats = np.pad(feats, ((0, 0), (0, width - frames)), constant_values=floor_db)
            frames = width
        start = int(plan.crop_frac[i] * (frames - width + 1))
        crop = np.array(feats[:, start : start + width], dtype=np.float32)
        for s, w in plan.time_mask[i]:
            t0 = int(s * (width - w))
            crop[:, t0 : t0 + int(w)] = floor_db
        for s, w in plan.freq_mask[i]:
            f0 = int(s * (crop.shape[0] - w))
            crop[f0 : f0 + int(w), :] = floor_db
        out.append(crop)
    return torch.from_numpy(np.stack(out))
