"""The Player streams from the file through a fake output device: what it plays is the file,
seeking starts there, and it never decodes more than its small buffer ahead."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.audio.playback import READ_BLOCK_SECONDS, Player
from tests.gui.fake_audio import FakeSoundDevice
from tests.helpers import write

RATE = 8000


def wait(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def ramp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 s whose samples say where they are: value = seconds / 200 (float wav, exact)."""
    x = (np.arange(120 * RATE) / RATE / 200).astype(np.float32)
    return write(tmp_path_factory.mktemp("player") / "ramp.wav", x, RATE, subtype="FLOAT")


def test_plays_the_file_from_where_it_was_asked(ramp_file: Path) -> None:
    device = FakeSoundDevice(speed=20)
    player = Player(backend=device)
    player.open(ramp_file, 120.0, RATE)
    assert player.loaded and player.duration == 120.0 and player.decoded_frames == 0
    player.play()
    wait(lambda: player.position > 1.0)
    assert player.playing
    ahead_limit = player.buffer_frames + int(READ_BLOCK_SECONDS * RATE)
    player.seek(90.0)
    assert player.position == pytest.approx(90.0, abs=0.01)
    wait(lambda: player.position > 91.0)
    # The sound is the file's from 90 s on: the ramp's value there.
    assert 90.0 / 200 <= device.streams[-1].peak <= (player.position + 0.1) / 200
    assert player.decoded_ahead <= ahead_limit
    assert player.decoded_frames < 10 * RATE  # since the seek: seconds, not the 30 s left
    player.pause()
    paused = player.position
    assert not player.playing and 91.0 < paused < 120.0
    player.seek(30.0)  # paused: just the position
    assert player.position == 30.0 and player.decoded_frames == 0
    player.stop()
    assert player.position == 0.0


def test_plays_to_the_end_and_says_so(ramp_file: Path) -> None:
    player = Player(backend=FakeSoundDevice(speed=40))
    player.open(ramp_file, 120.0, RATE)
    player.seek(117.0)
    player.play()
    wait(lambda: player.finished)
    assert not player.playing and player.position == pytest.approx(120.0, abs=0.01)
    assert player.error == ""
    player.play()  # from the start again
    assert player.position < 1.0
    player.stop()


def test_resamples_to_the_device_rate_when_it_does_not_take_the_file_s(ramp_file: Path) -> None:
    device = FakeSoundDevice(speed=20, rates={48000}, default=48000)
    player = Player(backend=device)
    player.open(ramp_file, 120.0, RATE)
    player.seek(60.0)
    player.play()
    wait(lambda: player.position > 61.0)
    assert device.streams[-1].samplerate == 48000
    assert player.position < 120
    player.stop()


def test_a_file_that_fails_midway_ends_playback_with_its_reason(tmp_path: Path) -> None:
    player = Player(backend=FakeSoundDevice(speed=40))
    player.open(tmp_path / "gone.wav", 10.0, RATE)
    player.play()
    wait(lambda: player.finished)
    assert "no such file" in player.error


def test_a_waveform_in_memory_plays_too() -> None:
    player = Player(backend=FakeSoundDevice(speed=40))
    player.load(np.full(2 * RATE, 0.25, np.float32), RATE)
    assert player.duration == 2.0
    player.play()
    wait(lambda: player.finished)
    assert player.position == pytest.approx(2.0, abs=0.01)
