"""End to end with a real PortAudio device: PulseAudio's null sink, its monitor as the
microphone, and a real GTZAN clip played into it."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.audio_device import (
    SINK_RATE,
    PrivatePulse,
    Recording,
    dominant_frequency,
    no_card_alsa_config,
    only_48k,
    play_into_sink,
)
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


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _listen(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mgr_desktop", "listen", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def test_listen_prints_readouts_in_order_of_what_it_hears(pulse_sink, trained_model, clip) -> None:
    """Readouts arrive, in time order, and hear the clip. How many a second is a speed, not a
    behaviour: benchmarks/live_speed.py measures it."""
    player = play_into_sink(clip)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mgr_desktop", "listen", "--model", str(trained_model),
             "--seconds", "6", "--format", "json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        player.kill()
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) >= 2
    times = [r["time"] for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times)
    # One line per readout, on time: never a burst of lines after a stall.
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(times)), times
    assert times[-1] <= 6.5
    labels = set(json.loads(trained_model.with_name("metrics.json").read_text())["labels"])
    for r in rows:
        assert set(r) >= {"time", "genre", "confidence", "uncertain", "probabilities", "level_db"}
        if r["genre"] is not None:
            assert set(r["probabilities"]) == labels and r["genre"] in labels
    assert max(r["level_db"] for r in rows) > -40  # it heard the clip, not silence
    assert any(r["genre"] is not None for r in rows)


def test_listen_lists_the_input_devices(pulse_sink) -> None:
    import sounddevice as sd

    proc = subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "listen", "--list-devices"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    inputs = [(i, d) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
    assert len(lines) == len(inputs) >= 1
    for line, (i, d) in zip(lines, inputs, strict=True):
        assert line.split()[0] == str(i) and d["name"] in line
        assert f"{d['max_input_channels']} ch)" in line
    assert sum("[default]" in line for line in lines) == 1


def test_listen_ctrl_c_exits_130(pulse_sink, cnn_model) -> None:
    proc = _listen("--model", str(cnn_model), "--format", "json")
    try:
        first = proc.stdout.readline()  # listening has begun: the first readout is out
        assert first.startswith("{"), proc.stderr.read() if proc.poll() is not None else first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err


def test_listen_says_so_when_the_device_dies_mid_stream(cnn_model) -> None:
    """The sound server goes away under a running `listen` (its own daemon, so the other tests
    keep theirs): one line saying so, exit 1, no traceback and no hang."""
    pulse = PrivatePulse()
    try:
        pulse.start(point_here=False)
        proc = _listen("--model", str(cnn_model), "--format", "json",
                       env={**os.environ, **pulse.env})  # fmt: skip
        try:
            assert proc.stdout.readline().startswith("{"), "listen never started"
            pulse.stop()  # the device is gone
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    finally:
        pulse.stop()
    assert proc.returncode == 1, err
    assert "mgr-desktop: error: the input device stopped" in err and "Traceback" not in err


def test_capture_at_48k_is_resampled_to_the_model_rate(pulse_sink, monkeypatch, tmp_path) -> None:
    """A 1 kHz tone played into a 48 kHz device comes out of the capture ring at 22050 Hz still
    at 1 kHz (unresampled, it would read as 459 Hz)."""
    from mgr_desktop.audio.capture import Capture

    only_48k(monkeypatch)
    song = write(tmp_path / "1k.wav", tone(8.0, SINK_RATE, 1000.0), SINK_RATE)
    capture = Capture(22050)
    capture.start()
    player = play_into_sink(song)
    try:
        assert capture.device_rate == SINK_RATE
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            capture.pump()
            heard = capture.ring.latest(22050)
            if capture.ring.written > 2 * 22050 and np.sqrt(np.mean(heard**2)) > 0.3:
                break
            time.sleep(0.02)
    finally:
        player.kill()
        capture.stop()
    assert np.sqrt(np.mean(heard**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert dominant_frequency(heard, 22050) == pytest.approx(1000.0, abs=2.0)


def test_playback_at_48k_plays_at_the_right_pitch(pulse_sink, monkeypatch, tmp_path) -> None:
    """A 22050 Hz, 1 kHz tone played on a 48 kHz device and recorded from the sink's monitor
    is at 1 kHz (unresampled, it would sound at 2177 Hz)."""
    from mgr_desktop.audio.playback import Player

    only_48k(monkeypatch)
    recording = Recording(tmp_path / "sink.raw")
    player = Player()
    player.load(tone(4.0, 22050, 1000.0), 22050)
    try:
        wait_until(lambda: recording.seconds() > 0.1)  # the sink is awake
        player.play()
        assert player.playing
        wait_until(lambda: player.position > 1.5)
    finally:
        player.stop()
        heard = recording.stop()
    loud = heard[np.abs(heard) > 0.05]
    assert len(loud) > SINK_RATE  # more than a second of the tone reached the sink
    start = int(np.argmax(np.abs(heard) > 0.05)) + SINK_RATE // 10
    window = heard[start : start + SINK_RATE]
    assert dominant_frequency(window, SINK_RATE) == pytest.approx(1000.0, abs=2.0)


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
    window, pulse_sink, trained_model, clip, qtbot, monkeypatch
) -> None:
    """On a 48 kHz device, as real microphones are: readouts arrive and the view redraws."""
    only_48k(monkeypatch)
    window.use_model(str(trained_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    window._populate_devices()
    listen = window.listen
    player = play_into_sink(clip)
    try:
        qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        assert listen.running and window.tabs.currentWidget() is listen
        assert listen.capture.device_rate == SINK_RATE and "48000 Hz" in listen.status.text()
        qtbot.waitUntil(lambda: listen.readouts >= 2, timeout=30000)
        redraws = listen.redraws
        qtbot.waitUntil(lambda: listen.redraws > redraws, timeout=10000)
        qtbot.waitUntil(lambda: listen.level.value() > -60, timeout=10000)
    finally:
        player.kill()
    shown = listen.readout.genre.text().rstrip("?").split(" or ")  # "a or b?": uncertain
    assert set(shown) <= set(window.engine.labels)
    listen.stop()
    assert not listen.running and listen.start_button.text() == "Start listening"
    listen.start()  # and again
    qtbot.waitUntil(lambda: listen.redraws > 0, timeout=30000)
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
