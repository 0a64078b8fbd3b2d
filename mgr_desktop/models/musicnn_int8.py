"""musicnn's front end in int8 on x86 CPUs: the same network, ~3x less arithmetic time.

Nearly all of musicnn's cost is five convolutions of the one-channel log-mel (two tall
timbral kernels, three long temporal ones), each followed by a max over the mel axis. Here
they run as int8 convolutions (oneDNN/FBGEMM through torch's quantized ops, VNNI where the CPU
has it) and the max runs on the int8 map. Only the max of each column is kept, so only its
range needs precision: each channel is rescaled in its weights so that the calibrated range of
its column extreme fills the 8 bits (a positive affine map keeps the max), and channels whose
batch norm flips the order (gamma < 0, where the original keeps the minimum) are negated, so
one max serves all. Values under the range clip to its floor, which never is a column's max.

The ranges are measured once on real music by `training/calibrate_int8.py` and shipped as
`data/pretrained/<backbone>.int8.json`, with a digest of the convolution weights they belong
to: a fine-tuned backbone (different weights) keeps the float path.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import torch
import torch.ao.nn.quantized as nnq
import torch.nn.functional as F
from torch import nn

from mgr_desktop.models.musicnn import Musicnn, _FreqMaxBlock
from mgr_desktop.paths import resource_path

# Each side of a calibrated range is widened by this share of its span: louder or stranger
# music than the calibration set saturates only beyond it.
MARGIN = 0.1
# Kernels taller than this run as several input channels of this height: oneDNN's int8
# kernels are ~3x slower above ~48 rows (measured on AVX-512 VNNI), FBGEMM's are not faster.
MAX_KERNEL_ROWS = 40
ENGINES = ("x86", "fbgemm", "onednn")  # int8 convolution back ends with per-channel weights
# torch 2.14 warns on every quantized tensor it creates; the user can do nothing about it.
warnings.filterwarnings("ignore", "torch.quantize_per_tensor, torch.quantize_per_channel")


@functools.cache
def available() -> bool:
    """Whether this build of torch runs per-channel int8 convolutions on this CPU: tried once.
    torch 2.14 marks its quantized tensors deprecated; where a later torch removes them, the
    float path runs."""
    if torch.backends.quantized.engine not in ENGINES:
        return False
    try:
        conv = nnq.Conv2d(1, 2, (2, 2))
        x = torch.quantize_per_tensor(torch.ones(1, 1, 3, 3), 0.1, 0, torch.quint8)
        return bool(torch.isfinite(conv(x).dequantize()).all())
    except Exception:  # any failure of an optional fast path means: use the float one
        return False


def blocks(model: Musicnn) -> list[_FreqMaxBlock]:
    return cast("list[_FreqMaxBlock]", [*model.timbral, *model.temporal])


def weights_digest(model: Musicnn) -> str:
    """Identifies the front-end weights a calibration belongs to."""
    h = hashlib.sha256()
    for b in blocks(model):
        for t in (b.conv.weight, _bias(b.conv), b.bn.weight):
            h.update(t.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None  # musicnn's convolutions all have one
    return conv.bias.detach()


def calibration_path(backbone: str) -> Path:
    return resource_path("pretrained", f"{backbone}.int8.json")


def load_calibration(backbone: str, model: Musicnn) -> dict[str, Any] | None:
    """The shipped ranges for this backbone, or None when there are none or they belong to
    other weights (a fine-tuned copy)."""
    try:
        cal = json.loads(calibration_path(backbone).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return cal if cal.get("digest") == weights_digest(model) else None


def _flip(block: _FreqMaxBlock) -> torch.Tensor:
    """+1 where batch norm keeps the order of the column max, -1 where it reverses it."""
    return torch.where(block.bn.weight >= 0, 1.0, -1.0).detach()


@torch.inference_mode()
def measure_ranges(model: Musicnn, batches: Iterable[torch.Tensor]) -> dict[str, Any]:
    """Ranges of the front end's input and of each channel's column extreme over `batches`
    of (B, 1, n_mels, frames) normalised features: what `quantize` needs."""
    model = model.eval()
    lo_in, hi_in = math.inf, -math.inf
    lo = [torch.full((b.conv.out_channels,), math.inf) for b in blocks(model)]
    hi = [torch.full((b.conv.out_channels,), -math.inf) for b in blocks(model)]
    for x in batches:
        x = model.input_bn(x)
        lo_in, hi_in = min(lo_in, float(x.min())), max(hi_in, float(x.max()))
        for i, b in enumerate(blocks(model)):
            z = b.conv(F.pad(x, b.time_pad)) * _flip(b)[:, None, None]
            ext = z.amax(dim=2).transpose(0, 1).flatten(1)  # (C, B*T)
            lo[i] = torch.minimum(lo[i], ext.amin(1))
            hi[i] = torch.maximum(hi[i], ext.amax(1))
    return {
        "digest": weights_digest(model),
        "input": [lo_in, hi_in],
        "blocks": [{"lo": a.tolist(), "hi": b.tolist()} for a, b in zip(lo, hi, strict=True)],
    }


def _widen(lo: float, hi: float) -> tuple[float, float]:
    span = max(hi - lo, 1e-6)
    return lo - MARGIN * span, hi + MARGIN * span


def _input_quantization(lo: float, hi: float) -> tuple[float, int]:
    """Scale and zero point of the one int8 copy of the features; zero (the time padding)
    stays exact."""
    lo, hi = _widen(min(lo, 0.0), max(hi, 0.0))
    scale = (hi - lo) / 255.0
    return scale, round(-lo / scale)


class Int8FreqMax(nn.Module):
    """A `_FreqMaxBlock` for inference: int8 convolution into per-channel rescaled columns,
    max over the mel axis in int8, then the float ReLU and batch norm on (B, C, T)."""

    def __init__(self, block: _FreqMaxBlock, lo: list[float], hi: list[float], x_scale: float,
                 x_zero: int) -> None:  # fmt: skip
        super().__init__()
        conv = block.conv
        self.time_pad = block.time_pad
        self.bn = block.bn
        self.x_scale, self.x_zero = x_scale, x_zero
        bounds = [_widen(a, b) for a, b in zip(lo, hi, strict=True)]
        lo_t = torch.tensor([a for a, _ in bounds])
        span = torch.tensor([b - a for a, b in bounds])
        flip = _flip(block)
        self.lo, self.span, self.flip = lo_t, span, flip  # CPU only, never moved or saved
        w = conv.weight.detach() * (flip / span)[:, None, None, None]
        b = (_bias(conv) * flip - lo_t) / span
        rows = w.shape[2]
        self.parts = max(1, math.ceil(rows / MAX_KERNEL_ROWS))
        self.part_rows = math.ceil(rows / self.parts)
        self.kernel_rows = rows
        if self.parts > 1:  # kernel rows j*h..(j+1)*h-1 become input channel j
            w = F.pad(w, (0, 0, 0, self.parts * self.part_rows - rows))
            w = w.reshape(w.shape[0], 1, self.parts, self.part_rows, w.shape[3])
            w = w.squeeze(1)
        w_scale = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127.0
        qw = torch.quantize_per_channel(
            w.contiguous(), w_scale, torch.zeros(len(w_scale), dtype=torch.long), 0, torch.qint8
        )
        self.conv = nnq.Conv2d(self.parts, w.shape[0], tuple(w.shape[2:]))
        self.conv.set_weight_bias(qw, b.float())
        self.conv.scale, self.conv.zero_point = 1.0 / 255.0, 0  # columns map to [0, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.time_pad)
        if self.parts > 1:
            rows = x.shape[2] - self.kernel_rows + self.part_rows  # what each part reads
            x = F.pad(x, (0, 0, 0, max(0, (self.parts - 1) * self.part_rows + rows - x.shape[2])))
            x = torch.cat([x[:, :, j * self.part_rows : j * self.part_rows + rows]
                           for j in range(self.parts)], dim=1)  # fmt: skip
        q = torch.quantize_per_tensor(x.contiguous(memory_format=torch.channels_last),
                                      self.x_scale, self.x_zero, torch.quint8)  # fmt: skip
        cols = self.conv(q)
        top = F.max_pool2d(cols, (cols.shape[2], 1)).dequantize().flatten(2)  # (B, C, T)
        extreme = (top * self.span[:, None] + self.lo[:, None]) * self.flip[:, None]
        return self.bn(F.relu(extreme))


def quantize(model: Musicnn, calibration: dict[str, Any]) -> Musicnn:
    """An inference copy of `model` whose front end runs in int8 (CPU only)."""
    q = copy.deepcopy(model).eval()
    x_scale, x_zero = _input_quantization(*calibration["input"])
    made = [
        Int8FreqMax(b, c["lo"], c["hi"], x_scale, x_zero)
        for b, c in zip(blocks(q), calibration["blocks"], strict=True)
    ]
    n = len(q.timbral)
    q.timbral = nn.ModuleList(made[:n])
    q.temporal = nn.ModuleList(made[n:])
    return q


def quantize_genre_model(model: nn.Module) -> nn.Module | None:
    """An inference copy of a genre model with every musicnn backbone's front end in int8,
    or None when it has no musicnn backbone, or this CPU or one of its backbones has no int8
    path (no shipped ranges for its weights)."""
    from mgr_desktop.models.transfer import MusicnnGenre

    if not isinstance(model, MusicnnGenre) or not available():
        return None
    backbones = cast("list[Musicnn]", list(model.backbones))
    cals = [load_calibration(n, b) for n, b in zip(model.backbone_names, backbones, strict=True)]
    if any(c is None for c in cals):
        return None
    q = copy.copy(model)  # shares the heads; the backbones are new copies
    q._modules = dict(model._modules)  # so that replacing them leaves `model` as it was
    q.backbones = nn.ModuleList(quantize(b, c) for b, c in zip(backbones, cals, strict=True))  # type: ignore[arg-type]
    return q.eval()
