"""Architecture name -> everything the app needs to know about it. The only place names are
resolved (never eval): the train command, the Train tab, the loader and the self-test read
this table, so adding an architecture is one entry here.

Importing this module does not import torch: builders import their model when called, so the
model picker can validate names at start-up for free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mgr_desktop.config import MUSICNN_FEATURES, FeatureConfig

if TYPE_CHECKING:
    from torch import nn

Builder = Callable[..., "nn.Module"]


def _cnn(n_classes: int, **_: Any) -> nn.Module:
    from mgr_desktop.models.cnn import GenreCNN

    return GenreCNN(n_classes)


def _resnet18(
    n_classes: int,
    pretrained: bool = False,
    on_message: Callable[[str], None] | None = None,
    **_: Any,
) -> nn.Module:
    from mgr_desktop.models.resnet import build_resnet18

    return build_resnet18(n_classes, pretrained, on_message)


def _musicnn(*backbones: str) -> Builder:
    def build(n_classes: int, pretrained: bool = False, **_: Any) -> nn.Module:
        from mgr_desktop.models.transfer import MusicnnGenre

        return MusicnnGenre(n_classes, backbones, pretrained=pretrained)

    return build


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str  # what the Train tab's list shows
    build: Builder
    default_max_lr: float  # OneCycle peak that trains well for this architecture
    features: FeatureConfig = field(default_factory=FeatureConfig)  # its input features
    supports_pretrained: bool = False  # starts from pretrained weights when asked
    pretrained_help: str = ""  # what "pretrained" means for it
    transfer: bool = False  # a pretrained backbone with a genre head (probe or fine-tune)
    min_n_mels: int = 32  # the fewest mel bands its pooling can take
    # What the model can do, declared here so that nothing guesses it from attributes:
    track_head: bool = False  # a verdict from a head over the track's segment embeddings
    music_tags: bool = False  # `outputs(x)` gives music-tag logits and embeddings too
    segment_batch: int = 32  # segments per inference call


def _transfer(name: str, title: str, *backbones: str) -> Architecture:
    """A genre head on shipped musicnn backbones: their front end, their pretrained weights."""
    return Architecture(
        name, title, _musicnn(*backbones), default_max_lr=1e-3, features=MUSICNN_FEATURES,
        supports_pretrained=True, transfer=True, min_n_mels=96,
        pretrained_help="start from musicnn's music-tagging weights (shipped)",
        # ~14 MB of activations a segment: 4 a call are as fast on a CPU as 64
        track_head=True, music_tags=True, segment_batch=4,
    )  # fmt: skip


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        _transfer(
            "musicnn_msd",
            "musicnn (Million Song Dataset) + genre head — recommended",
            "MSD_musicnn",
        ),
        _transfer("musicnn_mtt", "musicnn (MagnaTagATune) + genre head", "MTT_musicnn"),
        _transfer(
            "musicnn_msd_mtt",
            "musicnn MSD + MTT together + genre head",
            "MSD_musicnn",
            "MTT_musicnn",
        ),
        Architecture("cnn", "Compact CNN (from scratch, fast)", _cnn, default_max_lr=3e-3),
        Architecture(
            "cnn_fast",
            "Compact CNN on musicnn's 16 kHz front end (fast; the distillation student)",
            _cnn,
            default_max_lr=3e-3,
            features=MUSICNN_FEATURES,
            min_n_mels=32,
        ),
        Architecture(
            "resnet18",
            "ResNet18 (slower)",
            _resnet18,
            default_max_lr=1e-3,
            supports_pretrained=True,
            pretrained_help="start from ImageNet weights when torchvision has them",
        ),
    )
}
DEFAULT_ARCH = "musicnn_msd"


class UnknownArchitectureError(ValueError):
    pass


def get_architecture(arch: str) -> Architecture:
    try:
        return ARCHITECTURES[arch]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownArchitectureError(f"unknown architecture {arch!r} (known: {known})") from None


def build_model(arch: str, n_classes: int, **options: object) -> nn.Module:
    spec = get_architecture(arch)
    if n_classes < 2:
        raise ValueError(f"a genre model needs at least 2 labels, got {n_classes}")
    return spec.build(n_classes, **options)
