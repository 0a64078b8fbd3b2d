"""musicnn's front end rewritten through the rank of its filters: the same float arithmetic,
a fraction of the work.

Each front-end block convolves the one-channel log-mel with C filters of one shape and keeps
each channel's max over the mel axis. Where the C filters span only r dimensions (the MSD
model's 204 timbral filters of 38x7 span 23; its 67x7 ones 14; its temporal ones 3, 7 and 17),
the convolution is r filters followed by a C-by-r mix at every position: exact up to float
rounding (singular values under `TOLERANCE` of the largest are dropped), and 5-10x fewer
multiplications. The max over mels has to see the mixed map, so on a CPU the mix runs over a
few mel positions at a time and folds into a running max that stays in cache, never
materialising the (C, mels, frames) map.

This is a rewrite of the weights at load time, not a new model: any musicnn backbone gets it
block by block where it saves work (the MTT model's filters are nearly full rank and keep the
plain convolution), and training never sees it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from mgr_desktop.models.musicnn import Musicnn, _FreqMaxBlock

# Singular values below this share of the largest are dropped: float32 rounding is ~1e-7,
# and what is dropped bounds the change of any output by this share of the filters' size.
TOLERANCE = 1e-5
# The rewrite is kept where it needs no more multiplications than the plain convolution
# (it is faster even at equal work: the plain block makes and scans the whole map).
WORTH = 1.0
# Mel positions mixed per step on a CPU: few enough that the (batch, rows, C, frames) slab
# stays in cache, enough that the steps cost little (8 measured best; 4 was ~7 % slower).
CPU_ROWS = 8
FFT_MIN_WIDTH = 64  # time-only basis filters at least this long convolve through the FFT


class LowRankFreqMax(nn.Module):
    """A `_FreqMaxBlock` for inference as r basis filters, a per-position mix into its C
    channels, and the max over mels, then its ReLU and batch norm."""

    def __init__(self, block: _FreqMaxBlock, rank: int, u: torch.Tensor, basis: torch.Tensor,
                 ) -> None:  # fmt: skip
        super().__init__()
        conv = block.conv
        assert conv.bias is not None  # musicnn's convolutions all have one
        self.time_pad = block.time_pad
        self.bn = block.bn
        # Channels whose batch norm reverses the order keep the min in the original: negated
        # here, so one max serves every channel (ReLU and BN are monotone per channel).
        flip = torch.where(block.bn.weight.detach() >= 0, 1.0, -1.0)
        self.register_buffer("flip", flip[:, None])
        self.register_buffer("mix", (u * flip[:, None]).float().contiguous())  # (C, r)
        self.register_buffer("bias", (conv.bias.detach() * flip)[:, None])  # (C, 1)
        rows, cols = conv.weight.shape[2:]
        self.basis = nn.Conv2d(1, rank, (rows, cols), bias=False)
        self.basis.weight.data.copy_(basis)

    flip: torch.Tensor
    mix: torch.Tensor
    bias: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self._basis(F.pad(x, self.time_pad))  # (B, P, r, T)
        rows = CPU_ROWS if z.device.type == "cpu" else z.shape[1]
        top = torch.matmul(self.mix, z[:, :rows]).amax(dim=1)  # (B, C, T)
        for p in range(rows, z.shape[1], rows):
            torch.maximum(top, torch.matmul(self.mix, z[:, p : p + rows]).amax(dim=1), out=top)
        return self.bn(F.relu((top + self.bias) * self.flip))

    def _basis(self, x: torch.Tensor) -> torch.Tensor:
        """The basis filters' maps, (B, P, r, T). Long time-only filters (the temporal 1x128
        and 1x64) go through the FFT on a CPU: 0.8 ms against oneDNN's 2.8 and 1.5 ms at a
        batch of 4, float32 (1x32 gained nothing)."""
        w = self.basis.weight
        if w.shape[2] != 1 or w.shape[3] < FFT_MIN_WIDTH or x.device.type != "cpu":
            return self.basis(x).transpose(1, 2).contiguous()
        # Zero-padded to a power of two (a prime length is 4x slower); the valid part of the
        # correlation, from the filter's full overlap to the input's end, never wraps.
        length, width = x.shape[-1], w.shape[3]
        n = 1 << (length - 1).bit_length()
        spectrum = torch.fft.rfft(x[:, 0].float(), n=n)[:, :, None]  # (B, P, 1, F)
        kernels = torch.fft.rfft(w[:, 0, 0].flip(-1).float(), n=n)  # (r, F)
        z = torch.fft.irfft(spectrum * kernels, n=n)[..., width - 1 : length]
        return z.contiguous()


def factor(block: _FreqMaxBlock) -> LowRankFreqMax | None:
    """The block's low-rank form, or None where its filters' rank saves too little."""
    w = block.conv.weight.detach()
    channels, rows, cols = w.shape[0], w.shape[2], w.shape[3]
    # float64: the decomposition's own rounding must stay far under TOLERANCE
    u, s, vh = torch.linalg.svd(w.reshape(channels, -1).double(), full_matrices=False)
    rank = max(1, int((s > s[0] * TOLERANCE).sum()))
    if rank * (rows * cols + channels) > WORTH * channels * rows * cols:
        return None
    basis = vh[:rank].reshape(rank, 1, rows, cols).to(w.dtype)
    return LowRankFreqMax(block, rank, u[:, :rank] * s[:rank], basis)


def _work(block: nn.Module) -> int:
    """Multiplications per mel position and frame: the front end's cost, up to the shares."""
    if isinstance(block, LowRankFreqMax):
        w = block.basis.weight
        return w.shape[0] * (w.shape[2] * w.shape[3] + block.mix.shape[0])
    w = cast("_FreqMaxBlock", block).conv.weight
    return w.shape[0] * w.shape[2] * w.shape[3]


def _positions(block: nn.Module, n_mels: int) -> int:
    if isinstance(block, LowRankFreqMax):
        return n_mels - block.basis.weight.shape[2] + 1
    return n_mels - cast("_FreqMaxBlock", block).conv.weight.shape[2] + 1


def work(model: Musicnn, n_mels: int = 96) -> int:
    """The front end's multiplications per frame."""
    return sum(_work(b) * _positions(b, n_mels) for b in [*model.timbral, *model.temporal])


@dataclass(frozen=True)
class LowRankModel:
    """A genre model's inference copy in low-rank form, and the share of the front end's
    multiplications it still needs (the shipped model: 0.17)."""

    model: nn.Module
    share: float


def low_rank(model: Musicnn) -> Musicnn | None:
    """An inference copy of `model` with every block that gains from it in low-rank form, or
    None when none does."""
    q = copy.deepcopy(model).eval()
    old = [*q.timbral, *q.temporal]
    made = [factor(cast("_FreqMaxBlock", b)) for b in old]
    if all(m is None for m in made):
        return None
    new = [m if m is not None else o for m, o in zip(made, old, strict=True)]
    n = len(q.timbral)
    q.timbral = nn.ModuleList(new[:n])
    q.temporal = nn.ModuleList(new[n:])
    return q


def low_rank_genre_model(model: nn.Module) -> LowRankModel | None:
    """An inference copy of a genre model whose musicnn backbones run in low-rank form, or
    None when it has no musicnn backbone or none gains from it."""
    from mgr_desktop.models.transfer import MusicnnGenre

    if not isinstance(model, MusicnnGenre):
        return None
    old = [cast("Musicnn", b) for b in model.backbones]
    made = [low_rank(b) for b in old]
    if all(b is None for b in made):
        return None
    new = [m if m is not None else o for m, o in zip(made, old, strict=True)]
    q = copy.copy(model)  # shares the heads; the backbones that change are new copies
    q._modules = dict(model._modules)  # so that replacing them leaves `model` as it was
    q.backbones = nn.ModuleList(new)
    return LowRankModel(q.eval(), sum(map(work, new)) / sum(map(work, old)))
