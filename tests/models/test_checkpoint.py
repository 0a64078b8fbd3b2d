from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from mgr_desktop.config import FeatureConfig
from mgr_desktop.models import checkpoint
from mgr_desktop.models.checkpoint import (
    CheckpointError,
    ModelInfo,
    load_model,
    read_info,
    save_model,
)
from mgr_desktop.models.registry import build_model


def test_round_trip_keeps_weights_and_every_metadata_field(tmp_path: Path) -> None:
    labels = ("ambient", "drill", "gqom")
    cfg = FeatureConfig(n_mels=64, hop_length=256)
    model = build_model("cnn", 3).eval()
    info = ModelInfo(
        "cnn", labels, cfg, training={"epochs": 3, "test_track_accuracy": 0.5}, name="mine"
    )
    path = tmp_path / "m.safetensors"
    save_model(path, model, info)
    loaded = load_model(path)
    assert loaded.info.labels == labels and loaded.info.features == cfg
    assert loaded.info.training["epochs"] == 3 and loaded.info.name == "mine"
    assert loaded.info.created and loaded.info.app_version
    assert read_info(path) == loaded.info
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[k], v)
    assert not loaded.model.training


class _Exploit:
    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {_Exploit.marker}",))

    marker = ""


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".safetensors"])
@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_pickles_are_refused_without_being_executed(tmp_path: Path, suffix: str, how: str) -> None:
    marker = tmp_path / "pwned"
    _Exploit.marker = str(marker)
    path = tmp_path / f"model{suffix}"
    payload = {"state_dict": _Exploit()}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    for reader in (load_model, read_info):
        with pytest.raises(CheckpointError, match=r"refused: .*pickle"):
            reader(path)
    assert not marker.exists()


def _meta(**override: object) -> dict:
    meta = ModelInfo("cnn", ("a", "b"), FeatureConfig()).to_json()
    meta.update(override)
    return meta


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        (_meta(format="other"), "not an mgr-desktop model"),
        (_meta(format_version=99), "newer mgr-desktop"),
        (_meta(arch="vgg99"), "unknown architecture"),
        (_meta(labels=["solo"]), "labels"),
        (_meta(labels=["a", "a"]), "labels"),
        (_meta(features={"sample_rate": "fast"}), "must be a whole number"),
        (_meta(features={"n_fft": 1000}), "power of two"),
        (_meta(features={"colour": 3}), "colour: is not a known setting"),
    ],
)
def test_invalid_metadata_is_refused_with_a_reason(tmp_path: Path, meta: dict, reason: str) -> None:
    path = tmp_path / "bad.safetensors"
    checkpoint.save_tensors(path, dict(build_model("cnn", 2).state_dict()), meta)
    with pytest.raises(CheckpointError, match=reason):
        load_model(path)


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.safetensors"
    checkpoint.save_tensors(path, dict(build_model("cnn", 5).state_dict()), _meta())
    with pytest.raises(CheckpointError, match="do not match architecture cnn"):
        load_model(path)


def test_foreign_and_damaged_files_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="not an mgr-desktop model"):
        load_model(plain)
    text = tmp_path / "text.safetensors"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a"):
        load_model(text)
    good = tmp_path / "good.safetensors"
    save_model(good, build_model("cnn", 2), ModelInfo("cnn", ("a", "b"), FeatureConfig()))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-1000])
    with pytest.raises(CheckpointError):
        load_model(cut)
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "absent.safetensors")


def test_failed_save_leaves_the_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.safetensors"
    info = ModelInfo("cnn", ("a", "b"), FeatureConfig(), name="first")
    save_model(path, build_model("cnn", 2), info)
    before = path.read_bytes()

    def disk_full(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_model(path, build_model("cnn", 2), info)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left
    assert json.loads(json.dumps(read_info(path).to_json()))["name"] == "first"
