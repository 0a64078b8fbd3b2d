"""Architecture name -> builder. The only place names are resolved (never eval)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from mgr_desktop.models.cnn import GenreCNN
from mgr_desktop.models.resnet import build_resnet18


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    build: Callable[..., nn.Module]
    supports_pretrained: bool = False


ARCHITECTURES: dict[str, Architecture] = {
    "cnn": Architecture("cnn", "Compact CNN", lambda n, **_: GenreCNN(n)),
    "resnet18": Architecture(
        "resnet18",
        "ResNet18",
        lambda n, pretrained=False, on_message=None: build_resnet18(n, pretrained, on_message),
        supports_pretrained=True,
    ),
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
