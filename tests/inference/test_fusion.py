"""Folding BatchNorm into the convolutions changes no output, and the compact CNN gets there
without torch.fx (whose tracing loads ~180 more modules)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mgr_desktop.inference.fusion import optimise_for_inference
from mgr_desktop.models.checkpoint import load_model
from mgr_desktop.models.registry import build_model
from tests.helpers import make_model_file


@pytest.mark.parametrize("arch", ["cnn", "cnn_fast", "resnet18"])
def test_the_fused_model_gives_the_same_logits(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 10, pretrained=False).eval()
    for m in model.modules():  # trained-looking statistics, so the fold has work to do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(3, 1, 128, 130)
    fused = optimise_for_inference(model, torch.device("cpu"))
    with torch.inference_mode():
        expected, got = model(x), fused(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # left as it was


def test_the_compact_cnn_is_fused_without_torch_fx(tmp_path: Path) -> None:
    path = make_model_file(tmp_path / "cnn.safetensors", "cnn")
    code = (
        "import sys, torch; from mgr_desktop.models.checkpoint import load_model; "
        "from mgr_desktop.inference.fusion import optimise_for_inference; "
        f"optimise_for_inference(load_model({str(path)!r}).model, torch.device('cpu')); "
        "print('torch.fx.experimental.optimization' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert load_model(path).info.arch == "cnn"
