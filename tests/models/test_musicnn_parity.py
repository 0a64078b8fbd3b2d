"""The PyTorch musicnn port against the original TF graph of musicnn 0.1.0.

tests/data/musicnn_reference.npz comes from training/convert_musicnn.py (which also wrote the
weights). float64: the port and the TF graph built in float64 agree to ~1e-13, so the port's
semantics are exact. float32: both sides round; max_pool carries the largest error (mid-end
BN scales up to ~80 on values up to ~100) and TF's own float32 max_pool is up to 5e-4 away
from the float64 result, so 1e-4 there is not reachable by any float32 implementation.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from mgr_desktop.models.musicnn import PRETRAINED, Musicnn, load_pretrained, pretrained_tags

REF = Path(__file__).resolve().parents[1] / "data" / "musicnn_reference.npz"
OUTPUTS = ("mean_pool", "max_pool", "penultimate", "logits")
TOL64 = 1e-9
# Measured worst (both models, all clips): mean_pool 3e-5, max_pool 5e-4, penultimate 1.3e-5,
# logits 3e-5.
TOL32 = {"mean_pool": 1e-4, "max_pool": 1e-3, "penultimate": 1e-4, "logits": 1e-4}

# --- identical to training/convert_musicnn.py ------------------------------------------------
SR = 16000
PATCH = 187
GENERATED = ((0, 6.5), (1, 8.7))


def generated_clip(seed: int, seconds: float) -> np.ndarray:
    """Tones, a 2 Hz noise-burst beat and a noise floor at 16 kHz, float32 in [-0.8, 0.8]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    y = np.zeros(n)
    for f0 in rng.uniform(80.0, 2000.0, size=4):
        y += rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * f0 * t + rng.uniform(0.0, 2 * np.pi))
    y += 0.3 * np.exp(-20.0 * ((2.0 * t) % 1.0)) * rng.standard_normal(n)
    y += 0.01 * rng.standard_normal(n)
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def librosa_features(wave16k: np.ndarray) -> np.ndarray:
    """(96, frames) float32 log10(1 + 10000 * power mel), as the conversion computed it."""
    mel = librosa.feature.melspectrogram(
        y=wave16k.astype(np.float32), sr=SR, n_fft=512, hop_length=256, n_mels=96
    ).astype(np.float32)
    return np.log10(np.float32(1) + np.float32(10000) * mel).astype(np.float32)


def musicnn_features(wave16k: np.ndarray) -> np.ndarray:
    """The app's own front end (dsp.mel with the musicnn feature settings): the references
    are compared through exactly what classification feeds the network."""
    from mgr_desktop.config import MUSICNN_FEATURES
    from mgr_desktop.dsp.mel import LogMel

    with torch.inference_mode():
        return LogMel(MUSICNN_FEATURES)(torch.from_numpy(wave16k.astype(np.float32))).numpy()


def test_the_apps_front_end_is_musicnns() -> None:
    for seed, seconds in GENERATED:
        wave = generated_clip(seed, seconds)
        ours, theirs = musicnn_features(wave), librosa_features(wave)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def patches(features: np.ndarray) -> np.ndarray:
    """Consecutive non-overlapping 187-frame patches from frame 0: (N, 96, 187)."""
    n = features.shape[1] // PATCH
    return np.stack([features[:, i * PATCH : (i + 1) * PATCH] for i in range(n)])


def gtzan_clip(path: Path) -> np.ndarray:
    """First 6 s of a 22 050 Hz GTZAN track (cut before resampling), resampled as the app does."""
    x, sr = sf.read(str(path), frames=6 * 22050, dtype="float32")
    assert sr == 22050 and x.ndim == 1, (path, sr, x.shape)
    return soxr.resample(x, 22050, SR, quality="HQ").astype(np.float32)


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(REF) as f:
        return dict(f)


@pytest.fixture(scope="module", params=PRETRAINED)
def named_model(request: pytest.FixtureRequest) -> tuple[str, Musicnn]:
    return request.param, load_pretrained(request.param)


def _check(
    model: Musicnn, x: np.ndarray, ref: dict[str, np.ndarray], key: str, float64: bool = False
) -> dict[str, float]:
    """Run (N, 96, T) through the port; assert finite and within tolerance of ref[key/out]."""
    assert np.isfinite(x).all(), f"{key}: non-finite input"
    dtype = torch.float64 if float64 else torch.float32
    if float64:
        model = copy.deepcopy(model).double()
    with torch.inference_mode():
        out = model.embed(torch.from_numpy(x).to(dtype)[:, None])
    diffs = {}
    for k in OUTPUTS:
        got, want = out[k].numpy(), ref[f"{key}/{k}"]
        assert got.shape == want.shape, (key, k, got.shape, want.shape)
        assert np.isfinite(got).all() and np.isfinite(want).all(), f"{key}/{k}: non-finite"
        diffs[k] = float(np.abs(got - want).max())
    bad = {k: d for k, d in diffs.items() if d > (TOL64 if float64 else TOL32[k])}
    assert not bad, f"{key}: max abs differences over tolerance: {bad} (all: {diffs})"
    return diffs


def test_pretrained_files() -> None:
    for name in PRETRAINED:
        tags = pretrained_tags(name)
        assert len(tags) == 50 and len(set(tags)) == 50
        model = load_pretrained(name)
        assert not model.training
        assert model.out.out_features == 50 and model.dense.out_features == 200
    assert pretrained_tags("MSD_musicnn")[:3] == ("rock", "pop", "alternative")
    assert pretrained_tags("MTT_musicnn")[:3] == ("guitar", "classical", "slow")
    with pytest.raises(ValueError):
        load_pretrained("MSD_musicnn_big")


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
def test_network_parity_on_stored_patches(
    named_model: tuple[str, Musicnn], ref: dict[str, np.ndarray], float64: bool
) -> None:
    name, model = named_model
    net = ref["net/patches"]
    joined = np.concatenate(list(net), axis=1)[None]
    tag = "f64" if float64 else "f32"
    _check(model, net, ref, f"{name}/net/{tag}", float64)
    # Other lengths: the network is fully convolutional in time.
    for length in (188, joined.shape[2]):
        _check(model, joined[:, :, :length], ref, f"{name}/net{length}/{tag}", float64)


def test_generated_clips(named_model: tuple[str, Musicnn], ref: dict[str, np.ndarray]) -> None:
    name, model = named_model
    for seed, seconds in GENERATED:
        wave = generated_clip(seed, seconds)
        assert len(wave) == ref[f"clip/gen{seed}/n_samples"]
        x = patches(musicnn_features(wave))
        if seed == 0:  # the stored network patches are this clip's
            feat_diff = float(np.abs(x - ref["net/patches"]).max())
            assert feat_diff <= 1e-4, f"front end differs from the stored patches by {feat_diff}"
        _check(model, x, ref, f"{name}/clip/gen{seed}")


def test_gtzan_mini_clips(named_model: tuple[str, Musicnn], ref: dict[str, np.ndarray]) -> None:
    root = os.environ.get("MGR_TEST_GTZAN_MINI")
    if not root:
        pytest.skip("MGR_TEST_GTZAN_MINI is not set (point it at shared/gtzan-mini)")
    folder = Path(root) / "genres_original"
    assert folder.is_dir(), f"MGR_TEST_GTZAN_MINI is set but {folder} does not exist"
    genres = sorted(k.split("/")[1][len("gtzan_") :] for k in ref if k.startswith("clip/gtzan_"))
    assert genres, "the reference file holds no GTZAN clips"
    name, model = named_model
    for genre in genres:
        wave = gtzan_clip(folder / genre / f"{genre}.00000.wav")
        assert len(wave) == ref[f"clip/gtzan_{genre}/n_samples"]
        _check(model, patches(musicnn_features(wave)), ref, f"{name}/clip/gtzan_{genre}")


def test_fx_traceable() -> None:
    model = load_pretrained("MTT_musicnn")
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 1, 96, 187)
    with torch.inference_mode():
        assert torch.equal(traced(x), model(x))
