from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import gtzan_mini, make_model_file


@pytest.fixture(scope="session")
def cnn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("models") / "cnn.safetensors", "cnn")


@pytest.fixture(scope="session")
def resnet_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_file(tmp_path_factory.mktemp("models") / "resnet18.safetensors", "resnet18")


@pytest.fixture(scope="session")
def gtzan_mini_root() -> Path:
    root = gtzan_mini()
    if root is None:
        pytest.skip(
            "real GTZAN tracks not available: set MGR_TEST_GTZAN_MINI to shared/gtzan-mini"
            " (scripts/run-tests does when ../shared is beside the clone)"
        )
    return root
