from __future__ import annotations

import urllib.error

import pytest
import torch

from mgr_desktop.models import resnet
from mgr_desktop.models.registry import ARCHITECTURES, UnknownArchitectureError, build_model


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("n_classes", [2, 10, 17])
def test_models_map_log_mel_windows_to_n_logits(arch: str, n_classes: int) -> None:
    cfg = ARCHITECTURES[arch].features  # each architecture's own input features
    model = build_model(arch, n_classes).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 1, cfg.n_mels, cfg.segment_frames))
    assert out.shape == (3, n_classes)
    assert torch.isfinite(out).all()


def test_registry_refuses_unknown_names_without_evaluating_them() -> None:
    with pytest.raises(UnknownArchitectureError, match="unknown architecture"):
        build_model("__import__('os').system('true')", 10)
    with pytest.raises(ValueError, match="at least 2"):
        build_model("cnn", 1)


def test_resnet_offline_starts_from_scratch_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """No network and an empty cache: a model still comes back, and the user is told why."""
    from torchvision.models import _api

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    calls: list[str] = []

    def offline(url: str, *a: object, **k: object) -> None:
        calls.append(url)
        raise urllib.error.URLError("network is unreachable")

    # torchvision bound the name at import: patch it where WeightsEnum.get_state_dict looks
    monkeypatch.setattr(_api, "load_state_dict_from_url", offline)
    messages: list[str] = []
    model = build_model("resnet18", 10, pretrained=True, on_message=messages.append)
    assert calls and calls[0].endswith("resnet18-f37072fd.pth")  # the stub stood in
    assert model.conv1.in_channels == 1 and model.fc.out_features == 10
    assert len(messages) == 1
    assert "not available" in messages[0] and "random weights" in messages[0]
    assert "URLError" in messages[0] and "network is unreachable" in messages[0]


def test_resnet_pretrained_stem_is_the_sum_of_the_rgb_filters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchvision.models import resnet18

    fake = resnet18(weights=None).state_dict()  # stands in for the ImageNet download
    monkeypatch.setattr(resnet, "imagenet_state_dict", lambda *a, **k: dict(fake))
    model = build_model("resnet18", 10, pretrained=True)
    torch.testing.assert_close(model.conv1.weight, fake["conv1.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(model.layer1[0].conv1.weight, fake["layer1.0.conv1.weight"])
    assert model.fc.out_features == 10


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_the_registry_declares_what_each_model_can_do(arch: str) -> None:
    """The engine and evaluation read abilities from the registry, never from attributes: the
    declaration must match the model each architecture builds."""
    spec = ARCHITECTURES[arch]
    model = build_model(arch, 4).eval()
    assert spec.track_head == callable(getattr(model, "track_logits", None))
    assert spec.music_tags == callable(getattr(model, "outputs", None))
    assert spec.segment_batch >= 1
    if spec.music_tags:  # musicnn: ~14 MB of activations a segment
        assert spec.segment_batch <= 8
        x = torch.zeros(2, 1, spec.features.n_mels, spec.features.segment_frames)
        logits, tags, emb = model.outputs(x)  # type: ignore[operator]
        assert logits.shape == (2, 4) and tags.shape[0] == 2 and emb.shape[0] == 2
