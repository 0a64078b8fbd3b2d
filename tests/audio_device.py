"""A real PortAudio capture device for tests: PulseAudio with a null sink whose monitor is the
default source. Playing into the sink (paplay) is what the 'microphone' hears."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SINK = "mgrtest"


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def start_pulse() -> str:
    if not sys.platform.startswith("linux"):
        pytest.skip("the PulseAudio null-sink device is set up on Linux only")
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.fail(
            "PulseAudio is missing: scripts/run-tests installs pulseaudio and "
            "pulseaudio-utils (run it as root, or apt-get install them)"
        )
    if _run("pactl", "info").returncode != 0:
        started = _run("pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit")
        if _run("pactl", "info").returncode != 0:
            pytest.fail(f"cannot start PulseAudio: {started.stderr.strip()}")
    if SINK not in _run("pactl", "list", "short", "sinks").stdout:
        _run(
            "pactl",
            "load-module",
            "module-null-sink",
            f"sink_name={SINK}",
            f"sink_properties=device.description={SINK}",
        )
    _run("pactl", "set-default-sink", SINK)
    _run("pactl", "set-default-source", f"{SINK}.monitor")
    import sounddevice as sd

    sd._terminate()  # PortAudio lists devices once; list again now that PulseAudio is up
    sd._initialize()
    return SINK


def play_into_sink(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["paplay", f"--device={SINK}", str(path)])


def no_card_alsa_config(tmp: Path) -> Path:
    """The system's ALSA configuration without its conf.d hooks: a machine with no sound card."""
    base = Path("/usr/share/alsa/alsa.conf")
    if not base.exists():
        pytest.fail("alsa-lib's /usr/share/alsa/alsa.conf is missing (libasound2 not installed)")
    text = base.read_text()
    for hook in ("/usr/share/alsa/alsa.conf.d", "/etc/alsa/conf.d"):
        text = text.replace(hook, "/nonexistent")
    out = tmp / "no-card.conf"
    out.write_text(text)
    return out
