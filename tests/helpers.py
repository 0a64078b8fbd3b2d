"""Audio and model fixtures generated in code (no binary test data in the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mgr_desktop.config import GTZAN_GENRES, FeatureConfig
from mgr_desktop.models.checkpoint import ModelInfo, save_model
from mgr_desktop.models.registry import build_model


def tone(
    seconds: float, sr: int = 22050, freq: float = 440.0, channels: int = 1, amp: float = 0.5
) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return (
        x
        if channels == 1
        else np.stack([x * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    )


def write(path: Path, data: np.ndarray, sr: int, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, **kw)
    return path


def make_model_file(
    path: Path,
    arch: str = "cnn",
    labels: tuple[str, ...] = GTZAN_GENRES,
    seed: int = 0,
    cfg: FeatureConfig | None = None,
) -> Path:
    torch.manual_seed(seed)
    model = build_model(arch, len(labels))
    model.eval()
    save_model(path, model, ModelInfo(arch, labels, cfg or FeatureConfig(), name=path.stem))
    return path


def make_rigged_model(
    path: Path, labels: tuple[str, ...], logits: list[float], **info: object
) -> Path:
    """A compact CNN whose last layer ignores the audio and always gives these logits; `info`
    goes to its ModelInfo (for example outside="other")."""
    torch.manual_seed(0)
    model = build_model("cnn", len(labels)).eval()
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(logits))
    save_model(path, model, ModelInfo("cnn", labels, FeatureConfig(), name=path.stem, **info))  # type: ignore[arg-type]
    return path


def gtzan_mini() -> Path | None:
    """The 10 real GTZAN tracks, when the test command points at them (None when it does not).
    A path that is set but wrong is a failure, not a silent skip: the tests it guards would
    otherwise stop running without anyone noticing."""
    root = os.environ.get("MGR_TEST_GTZAN_MINI")
    if not root:
        return None
    path = Path(root)
    if not (path / "genres_original").is_dir():
        pytest.fail(
            f"MGR_TEST_GTZAN_MINI={root!r} is not a GTZAN mini folder (no genres_original/ "
            "in it): fix the path, or unset it to skip the tests on real tracks"
        )
    return path
