from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import gtzan_mini, make_model_file

# Qt widgets render offscreen unless a test starts a real X server itself.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Settings, models and caches of every test (and of the CLI runs they start) stay out of the
# developer's own folders; tests that need a fresh home set their own.
os.environ.setdefault("MGR_DESKTOP_HOME", tempfile.mkdtemp(prefix="mgr-tests-"))


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


@pytest.fixture(scope="session")
def pulse_sink() -> Iterator[str]:
    """A private PulseAudio daemon (null sink at 48 kHz) for this session, stopped after it."""
    from tests.audio_device import SINK, start_pulse

    pulse = start_pulse()
    yield SINK
    pulse.stop()


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings, models and cache in a fresh folder, as for a new user."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MGR_DESKTOP_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def trained_model(
    tmp_path_factory: pytest.TempPathFactory, small_corpus: Path, feature_cache: Path
) -> Path:
    """A model the loop really trained (1 epoch on the small corpus): real labels, real file."""
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.loop import fit
    from mgr_desktop.train.recipe import TrainConfig

    data = prepare(small_corpus, "random", cache=feature_cache)[0]
    out = tmp_path_factory.mktemp("trained")
    return fit(TrainConfig(arch="cnn", epochs=1, batch_size=8), data, out).model_path
