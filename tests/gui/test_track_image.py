"""The detail picture computed as a file streams: the same columns as the whole-file log-mel,
an overview that stays within its column limit, and windows decoded around a position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mgr_desktop.dsp.display import display_config
from mgr_desktop.dsp.mel import LogMel
from mgr_desktop.gui.track_image import ColumnStream, TrackImage, to_db, window_columns
from tests.helpers import write


@pytest.fixture(scope="module")
def mel() -> LogMel:
    return LogMel(display_config())


@pytest.fixture(scope="module")
def wave() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal(22050 * 7 + 123)).astype(np.float32)


@pytest.mark.parametrize("block", [1000, 10007, 22050 * 5])
def test_streamed_columns_are_the_whole_file_columns(mel, wave, block) -> None:
    whole = mel(torch.from_numpy(wave)).numpy()
    stream = ColumnStream(mel)
    parts = [stream.feed(wave[i : i + block]) for i in range(0, len(wave), block)]
    got = to_db(np.concatenate([*parts, stream.finish()], axis=1), mel)
    assert got.shape == whole.shape
    np.testing.assert_allclose(got, whole, atol=1e-4)


def test_an_overview_averages_columns_and_stays_within_its_limit() -> None:
    rng = np.random.default_rng(1)
    cols = rng.random((8, 1001)).astype(np.float32)
    image = TrackImage(8, max_columns=40)
    for i in range(0, 1001, 37):  # in uneven pieces, as blocks arrive
        image.add(cols[:, i : i + 37])
        assert image.columns <= 41
    assert image.step == 32  # doubled until 1001 columns fit in 40
    full, rest = divmod(1001, image.step)
    expected = cols[:, : full * image.step].reshape(8, full, image.step).mean(-1)
    power = image.power()
    np.testing.assert_allclose(power[:, :full], expected, rtol=1e-5)
    np.testing.assert_allclose(power[:, full], cols[:, -rest:].mean(1), rtol=1e-5)


def test_a_window_is_the_whole_file_s_columns_there(mel, wave, tmp_path: Path) -> None:
    path = write(tmp_path / "w.wav", wave, 22050, subtype="FLOAT")
    whole = mel(torch.from_numpy(wave)).numpy()
    for first, n in ((0, 30), (100, 80), (whole.shape[1] - 25, 25)):
        np.testing.assert_allclose(
            window_columns(path, mel, first, n), whole[:, first : first + n], atol=1e-3
        )
