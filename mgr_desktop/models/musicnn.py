"""PyTorch port of musicnn (Pons & Serra 2019; architecture from Pons et al. 2018), converted
from the TF1 checkpoints in the PyPI package musicnn 0.1.0 (see data/pretrained/README.md).

Input is the app's layout, (batch, 1, n_mels, frames), of log10(1 + 10000 * mel) features
(16 kHz, n_fft 512, hop 256, 96 mels). The original graph works on (batch, frames, n_mels);
here time is the last axis and the mid-end runs as Conv1d over it, which is the same maths.
Any number of frames >= 1 works (convolutions in time are 'same', pooling is global); the
models were trained on 187-frame patches.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import nn

from mgr_desktop.paths import resource_path

PRETRAINED = ("MSD_musicnn", "MTT_musicnn")
_TF_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default


def _bn2d(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=_TF_BN_EPS)


def _bn1d(c: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(c, eps=_TF_BN_EPS)


class _FreqMaxBlock(nn.Module):
    """conv -> ReLU -> BN -> max over the whole mel axis: (B, 1, F, T) -> (B, C, T).

    TF applies ReLU before BN here; `time_pad` is (before, after) as TF pads it.
    """

    def __init__(self, out_ch: int, freq_k: int, time_k: int, time_pad: tuple[int, int]) -> None:
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, out_ch, kernel_size=(freq_k, time_k))
        self.bn = _bn1d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(F.pad(x, self.time_pad))
        if self.training:  # fine-tuning: batch statistics over the whole (C, F, T) map, as TF
            bn = self.bn
            y = F.batch_norm(F.relu(z).flatten(2), bn.running_mean, bn.running_var, bn.weight,
                             bn.bias, True, bn.momentum or 0.0, bn.eps)  # fmt: skip
            return y.view_as(z).amax(dim=2)
        # ReLU and eval-mode BN are monotone per channel (decreasing where gamma < 0), so the
        # max over mels of BN(ReLU(z)) is BN(ReLU(max or min of z)), bit for bit: one pass over
        # the large (C, F, T) map instead of three.
        lo_hi = torch.aminmax(z, dim=2)
        extreme = torch.where((self.bn.weight >= 0)[:, None], lo_hi[1], lo_hi[0])
        return self.bn(F.relu(extreme))


class _MidConv(nn.Module):
    """Mid-end layer: conv over time with all input channels (TF's [7, C] valid conv after a
    3+3 time pad), ReLU, BN."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size=7, padding=3)
        self.bn = _bn1d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Musicnn(nn.Module):
    """Musically motivated front end (timbral + temporal filters), dense residual mid-end,
    global max/mean temporal pooling, two dense layers."""

    def __init__(
        self,
        n_mels: int = 96,
        num_filt_midend: int = 64,
        num_units_backend: int = 200,
        n_tags: int = 50,
    ) -> None:
        super().__init__()
        timbral_ch, temporal_ch = int(1.6 * 128), int(1.6 * 32)  # 204, 51 as in models.py
        self.input_bn = _bn2d(1)
        # Timbral: time kernel 7 padded 3+3; spans 40 % and 70 % of the mel axis, 'valid'.
        self.timbral = nn.ModuleList(
            _FreqMaxBlock(timbral_ch, int(f * n_mels), 7, (3, 3)) for f in (0.4, 0.7)
        )
        # Temporal: 1-mel-bin kernels over 128/64/32 frames, TF 'same' (even k: (k-1)//2 before).
        self.temporal = nn.ModuleList(
            _FreqMaxBlock(temporal_ch, 1, k, ((k - 1) // 2, k // 2)) for k in (128, 64, 32)
        )
        front_ch = 2 * timbral_ch + 3 * temporal_ch
        self.mid = nn.ModuleList(
            [
                _MidConv(front_ch, num_filt_midend),
                _MidConv(num_filt_midend, num_filt_midend),
                _MidConv(num_filt_midend, num_filt_midend),
            ]
        )
        pooled = front_ch + 3 * num_filt_midend
        self.pool_bn = _bn1d(2 * pooled)
        self.dense = nn.Linear(2 * pooled, num_units_backend)
        self.dense_bn = _bn1d(num_units_backend)
        self.out = nn.Linear(num_units_backend, n_tags)

    def embed(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All the graph's named outputs for x (B, 1, n_mels, frames), time last:
        timbral (B, 408, T), temporal (B, 153, T), cnn1..cnn3 (B, 64, T) (musicnn's
        cnn2/cnn3 are the post-residual sums), mean_pool/max_pool (B, 753), penultimate
        (B, units; post-BN), logits (B, n_tags)."""
        x = self.input_bn(x)
        timbral = torch.cat([b(x) for b in self.timbral], dim=1)
        temporal = torch.cat([b(x) for b in self.temporal], dim=1)
        front = torch.cat([timbral, temporal], dim=1)
        cnn1 = self.mid[0](front)
        cnn2 = self.mid[1](cnn1) + cnn1
        cnn3 = self.mid[2](cnn2) + cnn2
        feats = torch.cat([front, cnn1, cnn2, cnn3], dim=1)
        max_pool = feats.amax(dim=2)
        mean_pool = feats.mean(dim=2)
        # TF concatenates [max, mean] on a trailing axis then flattens: interleaved per channel.
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(flat))))
        return {
            "timbral": timbral,
            "temporal": temporal,
            "cnn1": cnn1,
            "cnn2": cnn2,
            "cnn3": cnn3,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "logits": self.out(penultimate),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tag logits (pre-sigmoid), (B, n_tags)."""
        return self.embed(x)["logits"]


def _read(name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    if name not in PRETRAINED:
        raise ValueError(f"unknown musicnn model {name!r}; expected one of {PRETRAINED}")
    path = resource_path("pretrained", f"{name}.safetensors")
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}  # noqa: SIM118


def pretrained_tags(name: str) -> tuple[str, ...]:
    """The 50 tag names of a shipped model, in logit order."""
    return tuple(json.loads(_read(name)[1]["tags"]))


def load_pretrained(name: str) -> Musicnn:
    """A shipped musicnn model ("MSD_musicnn" or "MTT_musicnn"), in eval mode on the CPU."""
    state, meta = _read(name)
    model = Musicnn(**{k: int(v) for k, v in json.loads(meta["config"]).items()})
    # The file holds float32 tensors only; BN's num_batches_tracked counters stay at 0.
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise ValueError(f"{name}: missing {missing}, unexpected {unexpected}")
    return model.eval()
