"""A trained model made ready for fast inference: BatchNorm folded into the convolutions."""

from __future__ import annotations

import copy
import logging

import torch

log = logging.getLogger(__name__)


def optimise_for_inference(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Fold BatchNorm into the convolutions and use channels-last memory: together about 3x
    faster on CPU (oneDNN runs conv+bias in one pass). Eval only; training keeps the original.
    Conv-BN pairs inside nn.Sequential are folded in place (torch's fuse_conv_bn_eval); only
    a model with BatchNorm elsewhere goes through torch.fx, whose tracing loads ~180 more
    modules (tens of MB in a frozen build)."""
    model = _fold_sequential_conv_bn(copy.deepcopy(model).eval())
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        try:
            from torch.fx.experimental.optimization import fuse

            model = fuse(model, inplace=True)  # already our own copy
        except Exception:  # an architecture fx cannot trace still runs, just unfused
            log.info("conv-BN fusion skipped", exc_info=True)
    return model.to(device).to(memory_format=torch.channels_last).eval()


def _fold_sequential_conv_bn(model: torch.nn.Module) -> torch.nn.Module:
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for seq in [m for m in model.modules() if isinstance(m, torch.nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(conv, bn)
                seq[i + 1] = torch.nn.Identity()
    return model
