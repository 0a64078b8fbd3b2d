"""End to end with a real PortAudio device: PulseAudio's null sink, its monitor as the
microphone, and a real GTZAN clip played into it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.audio_device import no_card_alsa_config, play_into_sink
from tests.helpers import gtzan_mini, tone, write

pytestmark = pytest.mark.audio_device


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A real GTZAN track when the shared folder is there, else a generated one."""
    root = gtzan_mini()
    if root is not None:
        return root / "genres_original" / "jazz" / "jazz.00000.wav"
    rng = np.random.default_rng(0)
    return write(tmp_path / "clip.wav", tone(20.0) + 0.05 * rng.standard_normal(441000), 22050)


def test_listen_gives_twenty_readouts_in_fifteen_seconds(pulse_sink, trained_model, clip) -> None:
    player = play_into_sink(clip)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mgr_desktop", "listen", "--model", str(trained_model),
             "--seconds", "15", "--format", "json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        player.kill()
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) >= 20
    labels = set(json.loads(trained_model.with_name("metrics.json").read_text())["labels"])
    for r in rows:
        assert set(r) >= {"time", "genre", "confidence", "uncertain", "probabilities", "level_db"}
        assert set(r["probabilities"]) == labels and r["genre"] in labels
    assert rows[-1]["time"] <= 15.5
    assert max(r["level_db"] for r in rows) > -40  # it heard the clip, not silence


def test_listen_without_an_input_device_exits_2(tmp_path: Path, trained_model) -> None:
    env = {**os.environ, "ALSA_CONFIG_PATH": str(no_card_alsa_config(tmp_path))}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mgr_desktop",
            "listen",
            "--model",
            str(trained_model),
            "--seconds",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mgr-desktop: error: no audio input device found"


def test_window_microphone_mode_shows_live_readouts(
    window, pulse_sink, trained_model, clip, qtbot
) -> None:
    window.use_model(str(trained_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    window._populate_devices()
    listen = window.listen
    player = play_into_sink(clip)
    try:
        qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        assert listen.running and window.tabs.currentWidget() is listen
        qtbot.waitUntil(lambda: listen.readouts >= 6, timeout=30000)
    finally:
        player.kill()
    assert listen.readout.genre.text() in window.engine.labels
    assert listen.redraws > 20 and listen.level.value() > -60
    listen.stop()
    assert not listen.running and listen.start_button.text() == "Start listening"
    listen.start()  # and again
    qtbot.waitUntil(lambda: listen.redraws > 5, timeout=30000)
    listen.stop()


def test_a_missing_input_device_is_a_message_not_a_crash(window, pulse_sink, qtbot) -> None:
    listen = window.listen
    listen.input_device.addItem("unplugged headset", "no such device 42")
    listen.input_device.setCurrentIndex(listen.input_device.count() - 1)
    messages: list[str] = []
    listen.message.connect(messages.append)
    listen.start()
    assert not listen.running
    assert messages and "no such device 42" in messages[0]
    assert "no such device 42" in listen.status.text()
    listen.input_device.setCurrentIndex(0)  # system default
    listen.start()
    assert listen.running
    listen.stop()


def test_a_device_that_dies_mid_stream_stops_capture_cleanly(window, pulse_sink, qtbot) -> None:
    listen = window.listen
    listen.start()
    assert listen.running
    listen.capture._stream.abort()  # what PortAudio reports when the device goes away
    qtbot.waitUntil(lambda: not listen.running, timeout=5000)
    assert "input device stopped" in listen.status.text()
    listen.start()  # can start again
    assert listen.running
    listen.stop()


def test_playback_follows_the_playhead(window, pulse_sink, cnn_model, clip, qtbot) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    window.add_paths([str(clip)])
    files = window.files
    qtbot.waitUntil(
        lambda: files.current_db is not None and files.model.rows[0].result is not None,
        timeout=60000,
    )
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert files.player.playing
    qtbot.waitUntil(lambda: files.player.position > 1.0, timeout=15000)
    assert files.timeline.position is not None and "at " in files.readout.confidence.text()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not files.player.playing
    paused_at = files.player.position
    files.seek(12.0)
    assert files.player.position == pytest.approx(12.0, abs=0.01) and paused_at < 12
    files.stop()
    assert files.player.position == 0 and files.timeline.position is None


def test_input_overflows_are_reported_at_most_every_few_seconds(
    window, pulse_sink, qtbot, monkeypatch
) -> None:
    from mgr_desktop.gui import listen_panel

    listen = window.listen
    messages: list[str] = []
    listen.message.connect(messages.append)
    listen.start()
    qtbot.waitUntil(lambda: listen.redraws > 3, timeout=10000)
    listen.capture.overflows += 3  # what the PortAudio callback counts on an overrun
    qtbot.waitUntil(lambda: bool(messages), timeout=5000)
    assert "input overflow: 3 audio blocks dropped" in messages[0]
    listen.capture.overflows += 1
    redraws = listen.redraws
    qtbot.waitUntil(lambda: listen.redraws > redraws + 10, timeout=10000)
    assert len(messages) == 1  # not again within OVERFLOW_REPORT_S
    monkeypatch.setattr(listen_panel, "OVERFLOW_REPORT_S", 0.0)
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=5000)
    assert "4 audio blocks" in messages[1] and listen.running  # reported, still listening
    listen.stop()
