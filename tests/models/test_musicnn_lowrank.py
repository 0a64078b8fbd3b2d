"""musicnn's front end in low-rank form: the same numbers as the plain network, where and
only where its filters allow it."""

from __future__ import annotations

from typing import cast

import pytest
import torch

from mgr_desktop.inference.engine import Engine
from mgr_desktop.models import musicnn_lowrank
from mgr_desktop.models.checkpoint import load_model
from mgr_desktop.models.musicnn import Musicnn, _FreqMaxBlock, load_pretrained
from mgr_desktop.paths import default_model_path
from tests.inference.test_precision import music_like


def _low_rank_weights(model: Musicnn, rank: int) -> None:
    """Random filters that span `rank` dimensions, and gammas of both signs."""
    gen = torch.Generator().manual_seed(1)
    for b in [*model.timbral, *model.temporal]:
        assert isinstance(b, _FreqMaxBlock)
        w = b.conv.weight
        span = torch.randn(rank, w[0].numel(), generator=gen)
        w.data = (torch.randn(w.shape[0], rank, generator=gen) @ span).view_as(w) / 10
        b.bn.weight.data.uniform_(-1, 1, generator=gen)
        b.bn.running_var.uniform_(0.5, 2, generator=gen)  # type: ignore[union-attr]


@pytest.mark.parametrize("rows", [1, 8, 1000])  # 1000: every position at once, as on a GPU
@pytest.mark.parametrize("fft_from", [64, 10**6])  # long temporal filters by FFT, or not
def test_each_block_gives_the_plain_blocks_numbers_for_either_sign_of_gamma(
    rows: int, fft_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(musicnn_lowrank, "CPU_ROWS", rows)
    monkeypatch.setattr(musicnn_lowrank, "FFT_MIN_WIDTH", fft_from)
    torch.manual_seed(0)
    model = Musicnn().eval()
    _low_rank_weights(model, rank=5)
    fast = musicnn_lowrank.low_rank(model)
    assert fast is not None
    x = model.input_bn(torch.randn(3, 1, 96, 187))
    with torch.inference_mode():
        for plain, low in zip([*model.timbral, *model.temporal], [*fast.timbral, *fast.temporal],
                              strict=True):  # fmt: skip
            assert isinstance(low, musicnn_lowrank.LowRankFreqMax)
            assert low.basis.out_channels == 5
            want, got = plain(x), low(x)
            assert got.shape == want.shape
            assert (got - want).abs().max() <= 1e-4 * want.abs().max()


def test_full_rank_filters_keep_the_plain_convolution() -> None:
    torch.manual_seed(0)
    model = Musicnn().eval()  # random filters span every dimension they can
    assert musicnn_lowrank.low_rank(model) is None


def test_the_shipped_model_runs_in_low_rank_with_the_plain_models_outputs() -> None:
    loaded = load_model(default_model_path())
    made = musicnn_lowrank.low_rank_genre_model(loaded.model)
    assert made is not None and made.share < 0.2  # a sixth of the multiplications
    backbone = cast("Musicnn", made.model.backbones[0])  # type: ignore[index]
    assert all(isinstance(b, musicnn_lowrank.LowRankFreqMax)
               for b in [*backbone.timbral, *backbone.temporal])  # fmt: skip
    assert isinstance(loaded.model.backbones[0].timbral[0], _FreqMaxBlock)  # type: ignore[index]
    engine = Engine(loaded, "cpu", hop_seconds=3.0, precision="float32")
    assert engine.model is not loaded.model and engine.precision == "float32"
    for seed in range(3):
        wave = music_like(9.0, seed)
        x = engine.log_mel(wave)[:, : engine.cfg.segment_frames].unsqueeze(0)
        plain, _, _ = _outputs(loaded.model, engine, x)
        fast, tags, emb = engine.segment_outputs(x)
        assert torch.allclose(plain, fast, atol=1e-4)
        assert tags is not None and emb is not None


def _outputs(
    model: torch.nn.Module, engine: Engine, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The segment outputs of `model` (the plain network) through the engine's own path."""
    kept = engine.model
    engine.model = model.eval()
    try:
        return engine.segment_outputs(x)
    finally:
        engine.model = kept


def test_filters_near_full_rank_gain_too_little_to_beat_int8() -> None:
    """MTT's filters are nearly full rank: the low-rank form saves a fifth (int8 is `auto`
    there, tests/models/test_musicnn_int8.py); the shipped model's save five sixths."""
    plain = load_pretrained("MTT_musicnn")
    made = musicnn_lowrank.low_rank(plain)
    assert made is not None
    assert musicnn_lowrank.work(made) > 0.5 * musicnn_lowrank.work(plain)
    assert Engine.from_file(default_model_path(), "cpu").precision in ("float32", "bfloat16")
