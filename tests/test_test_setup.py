"""The test set-up itself: the private sound server and the real-track folder."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import gtzan_mini


def test_a_wrong_gtzan_mini_path_fails_rather_than_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MGR_TEST_GTZAN_MINI", str(tmp_path / "no-such-folder"))
    with pytest.raises(pytest.fail.Exception, match="MGR_TEST_GTZAN_MINI"):
        gtzan_mini()
    monkeypatch.setenv("MGR_TEST_GTZAN_MINI", str(tmp_path))  # a folder, but not GTZAN
    with pytest.raises(pytest.fail.Exception, match="genres_original"):
        gtzan_mini()
    (tmp_path / "genres_original").mkdir()
    assert gtzan_mini() == tmp_path
    monkeypatch.delenv("MGR_TEST_GTZAN_MINI")
    assert gtzan_mini() is None  # not set: the tests on real tracks skip


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("pulseaudio") is None,
    reason="the private PulseAudio runs on Linux with pulseaudio installed",
)
def test_the_private_sound_server_is_our_own_and_goes_away() -> None:
    from tests.audio_device import SINK, SINK_RATE, PrivatePulse

    before = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_COOKIE")}
    pulse = PrivatePulse()
    try:
        pulse.start()
        assert pulse.running
        assert os.environ["PULSE_SERVER"] == f"unix:{pulse.socket}"
        assert str(pulse.socket).startswith(str(pulse.root))  # nothing in a shared runtime dir
        info = pulse.pactl("info").stdout
        assert f"Server String: unix:{pulse.socket}" in info
        assert f"Default Sink: {SINK}\n" in info and f"Default Source: {SINK}.monitor" in info
        sinks = pulse.pactl("list", "short", "sinks").stdout
        assert f"{SINK}\t" in sinks and f"{SINK_RATE}Hz" in sinks
        proc = pulse.proc
    finally:
        pulse.stop()
    assert proc is not None and proc.poll() is not None  # the daemon has exited
    assert not pulse.root.exists()
    assert {k: os.environ.get(k) for k in before} == before
