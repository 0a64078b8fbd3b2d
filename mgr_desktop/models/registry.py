"""Architecture name -> builder. The only place names are resolved (never eval).

Importing this module does not import torch: builders import their model when called, so the
model picker can validate names at start-up for free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


def _cnn(n_classes: int, **_: Any) -> nn.Module:
    from mgr_desktop.models.cnn import GenreCNN

    return GenreCNN(n_classes)


def _resnet18(
    n_classes: int, pretrained: bool = False, on_message: Callable[[str], None] | None = None
) -> nn.Module:
    from mgr_desktop.models.resnet import build_resnet18

    return build_resnet18(n_classes, pretrained, on_message)


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    build: Callable[..., nn.Module]
    supports_pretrained: bool = False


ARCHITECTURES: dict[str, Architecture] = {
    "cnn": Architecture("cnn", "Compact CNN", _cnn),
    "resnet18": Architecture("resnet18", "ResNet18", _resnet18, supports_pretrained=True),
}


class UnknownArchitectureError(ValueError):
    pass


def build_model(arch: str, n_classes: int, **options: object) -> nn.Module:
    try:
        spec = ARCHITECTURES[arch]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownArchitectureError(f"unknown architecture {arch!r} (known: {known})") from None
    if n_classes < 2:
        raise ValueError(f"a genre model needs at least 2 labels, got {n_classes}")
    return spec.build(n_classes, **options)
