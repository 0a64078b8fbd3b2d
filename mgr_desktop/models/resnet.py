"""torchvision's ResNet18 with a 1-channel stem and an N-way head.

ImageNet weights are used when torchvision can get them (its cache, or a download); offline it
starts from scratch and says so, rather than failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn

log = logging.getLogger(__name__)


def build_resnet18(
    n_classes: int, pretrained: bool = False, on_message: Callable[[str], None] | None = None
) -> nn.Module:
    from torchvision.models import ResNet18_Weights, resnet18

    model = resnet18(weights=None, num_classes=n_classes)
    rgb_stem = model.conv1
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if pretrained:
        state = imagenet_state_dict(ResNet18_Weights.IMAGENET1K_V1, on_message)
        if state is not None:
            rgb_stem.load_state_dict({"weight": state.pop("conv1.weight")})
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            model.load_state_dict(state, strict=False)
            with torch.no_grad():  # grey input = R = G = B, so summing the RGB filters is exact
                model.conv1.weight.copy_(rgb_stem.weight.sum(dim=1, keepdim=True))
    return model


def imagenet_state_dict(
    weights: object, on_message: Callable[[str], None] | None = None
) -> dict[str, torch.Tensor] | None:
    """torchvision's ImageNet weights from its cache or the network; None, with a message, when
    neither works (offline machines)."""
    say = on_message or log.warning
    try:
        return dict(weights.get_state_dict(progress=False, check_hash=True))  # type: ignore[attr-defined]
    except Exception as e:  # URLError, socket errors, hash mismatch: all mean "not available"
        say(
            "ImageNet weights for ResNet18 are not available "
            f"({type(e).__name__}: {e}); training starts from random weights instead. "
            "Put resnet18-f37072fd.pth in torch's hub cache (torch.hub.get_dir()/checkpoints) "
            "to use them offline."
        )
        return None
