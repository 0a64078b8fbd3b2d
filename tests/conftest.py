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


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 genres x 6 tracks x 6 s: enough for the loop's mechanics, seconds to train."""
    from mgr_desktop.train.synthetic import make_corpus

    return make_corpus(
        tmp_path_factory.mktemp("small"), n_classes=4, tracks_per_class=6, seconds=6.0, seed=1
    )


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")
