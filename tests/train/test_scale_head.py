"""scale_head: a temperature folded into the segment head's last (linear) layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mgr_desktop.train.probe import scale_head


class _Headed(nn.Module):
    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head


def test_the_last_linear_layer_is_divided_by_the_temperature() -> None:
    torch.manual_seed(0)
    model = _Headed(nn.Sequential(nn.Dropout(0.3), nn.Linear(5, 3))).eval()
    x = torch.randn(4, 5)
    before = model.head(x)
    scale_head(model, 2.0)
    assert torch.allclose(model.head(x), before / 2.0)


def test_a_head_without_a_final_linear_layer_is_refused() -> None:
    with pytest.raises(TypeError, match="linear layer"):
        scale_head(_Headed(nn.Sequential(nn.Linear(5, 3), nn.ReLU())), 2.0)
