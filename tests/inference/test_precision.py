"""bfloat16 on CPUs that have it: faster, and the verdicts of float32 (within 0.02)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mgr_desktop import device
from mgr_desktop.device import DeviceUnavailableError, pick_precision
from mgr_desktop.inference.engine import Engine
from mgr_desktop.paths import default_model_path

CPU = torch.device("cpu")


def test_auto_is_bfloat16_only_on_a_cpu_with_it_in_hardware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    assert pick_precision("auto", CPU) == "float32"
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    assert pick_precision("auto", CPU) == "bfloat16"
    assert pick_precision(None, CPU) == "bfloat16"
    assert pick_precision("float32", CPU) == "float32"
    assert pick_precision("auto", torch.device("meta")) == "float32"  # not a CPU


def test_unknown_or_unavailable_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        pick_precision("half", CPU)
    with pytest.raises(DeviceUnavailableError, match="CPU only"):
        pick_precision("bfloat16", torch.device("meta"))


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Chords with a beat and noise: enough structure that the model's genres differ."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    notes = rng.choice([110, 147, 165, 196, 220, 262, 294, 330], size=4)
    wave = sum(np.sin(2 * np.pi * f * t) for f in notes) / 4
    beat = (np.sin(2 * np.pi * rng.uniform(1, 3) * t) > 0.9) * rng.standard_normal(len(t))
    return (0.3 * wave + 0.2 * beat + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def test_bfloat16_gives_the_float32_verdicts_of_the_shipped_model() -> None:
    exact = Engine.from_file(default_model_path(), "cpu", hop_seconds=3.0, precision="float32")
    fast = Engine.from_file(default_model_path(), "cpu", hop_seconds=3.0, precision="bfloat16")
    assert (exact.precision, fast.precision) == ("float32", "bfloat16")
    for seed in range(4):
        wave = music_like(12.0, seed)
        a, b = exact.classify_waveform(wave), fast.classify_waveform(wave)
        assert a.genre == b.genre
        assert list(a.probabilities.values()) == pytest.approx(
            list(b.probabilities.values()), abs=0.02
        )
        seg_a = np.stack([s.probabilities for s in a.segments])
        seg_b = np.stack([s.probabilities for s in b.segments])
        assert np.abs(seg_a - seg_b).max() <= 0.02
        assert not np.array_equal(seg_a, seg_b)  # bfloat16 did run
