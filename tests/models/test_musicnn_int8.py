"""musicnn's int8 front end: float32's verdicts at a third of the cost, and only where its
shipped ranges belong."""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

from mgr_desktop.device import DeviceUnavailableError
from mgr_desktop.inference.engine import Engine
from mgr_desktop.models import musicnn_int8
from mgr_desktop.models.checkpoint import LoadedModel, load_model
from mgr_desktop.models.musicnn import Musicnn, _FreqMaxBlock, load_pretrained
from mgr_desktop.models.registry import build_model
from mgr_desktop.paths import default_model_path
from tests.inference.test_precision import music_like

X86 = platform.machine().lower() in ("x86_64", "amd64")


def test_int8_runs_on_this_x86_machine_and_auto_picks_it_for_filters_of_high_rank() -> None:
    """The shipped model's filters run faster in low-rank form (test_musicnn_lowrank.py);
    MTT's, nearly full rank, in int8."""
    assert musicnn_int8.available() is X86  # the CI machine is x86: the fast path is tested
    shipped = load_model(default_model_path())
    info = dataclasses.replace(shipped.info, arch="musicnn_mtt")
    mtt = LoadedModel(build_model("musicnn_mtt", len(info.labels), pretrained=True), info,
                      shipped.path)  # fmt: skip
    assert Engine(mtt, "cpu").precision == ("int8" if X86 else Engine(mtt, "cpu").precision)
    assert Engine.from_file(default_model_path(), "cpu").precision != "int8"


def test_int8_gives_the_float32_verdicts_of_the_shipped_model() -> None:
    exact = Engine.from_file(default_model_path(), "cpu", hop_seconds=3.0, precision="float32")
    fast = Engine.from_file(default_model_path(), "cpu", hop_seconds=3.0, precision="int8")
    for seed in range(4):
        wave = music_like(12.0, seed)
        a, b = exact.classify_waveform(wave), fast.classify_waveform(wave)
        assert (a.genre, a.outside) == (b.genre, b.outside)
        pa, pb = np.array(list(a.probabilities.values())), np.array(list(b.probabilities.values()))
        assert np.abs(pa - pb).max() <= 0.05
        assert not np.array_equal(pa, pb)  # int8 did run
        assert a.tags.keys() == b.tags.keys()


def test_each_int8_block_matches_its_float_block_including_a_split_kernel() -> None:
    torch.manual_seed(0)
    model = Musicnn().eval()  # random weights: the split 67-row kernel and negative gammas
    for b in musicnn_int8.blocks(model):
        b.bn.weight.data.uniform_(-1, 1)
        b.bn.running_var.uniform_(0.5, 2)  # type: ignore[union-attr]
    x = torch.randn(6, 1, 96, 187)
    cal = musicnn_int8.measure_ranges(model, [x])
    q = musicnn_int8.quantize(model, cal)
    assert q.timbral[1].parts == 2 and q.timbral[0].parts == 1  # type: ignore[union-attr]
    with torch.inference_mode():
        xi = model.input_bn(x)
        for float_block, int8_block in zip(musicnn_int8.blocks(model), [*q.timbral, *q.temporal],
                                           strict=True):  # fmt: skip
            want, got = float_block(xi), int8_block(xi)
            assert got.shape == want.shape
            assert (got - want).abs().max() <= 0.05 * want.abs().max()
        assert torch.isfinite(q.embed(100 * x)["logits"]).all()  # far beyond the ranges: clipped


def test_other_weights_keep_the_float_path_and_the_original_is_untouched() -> None:
    loaded = load_model(default_model_path())
    q = musicnn_int8.quantize_genre_model(loaded.model)
    assert q is not None
    assert isinstance(loaded.model.backbones[0].timbral[0], _FreqMaxBlock)  # type: ignore[index]
    assert isinstance(q.backbones[0].timbral[0], musicnn_int8.Int8FreqMax)  # type: ignore[index]
    tuned = load_model(default_model_path())  # a fine-tuned backbone: its ranges are unknown
    with torch.no_grad():
        tuned.model.backbones[0].timbral[0].conv.weight.mul_(1.01)  # type: ignore[index]
    assert musicnn_int8.quantize_genre_model(tuned.model) is None
    assert Engine(tuned, "cpu").precision != "int8"
    with pytest.raises(DeviceUnavailableError, match="int8 is offered"):
        Engine(tuned, "cpu", precision="int8")


def test_a_model_without_musicnn_has_no_int8(cnn_model: Path) -> None:
    assert musicnn_int8.quantize_genre_model(load_model(cnn_model).model) is None
    with pytest.raises(DeviceUnavailableError, match="int8 is offered"):
        Engine.from_file(cnn_model, "cpu", precision="int8")


def test_the_shipped_ranges_belong_to_the_shipped_backbones() -> None:
    for name in ("MSD_musicnn", "MTT_musicnn"):
        cal = musicnn_int8.load_calibration(name, load_pretrained(name))
        assert cal is not None and "calibration" in cal
        assert len(cal["blocks"]) == 5
