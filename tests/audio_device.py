"""A real PortAudio device for tests: a private PulseAudio daemon with a null sink whose monitor
is the default source. Playing into the sink (paplay) is what the 'microphone' hears.

The daemon is the tests' own: its runtime folder, state folder, cookie and socket live in a
temporary folder, this process points libpulse at it with PULSE_SERVER (children inherit it),
and it is stopped when the test session ends. A developer's own PulseAudio (or PipeWire) is
never contacted, so its default sink and source stay as they were.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

SINK = "mgrtest"
SINK_RATE = 48000  # what real sound cards run at; the model's 22050 Hz must be resampled to it
_ENV_KEYS = ("PULSE_SERVER", "PULSE_COOKIE", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH")


class PrivatePulse:
    """One `pulseaudio` process owned by the tests, reachable only through its own socket."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mgr-test-pulse-"))
        self.socket = self.root / "native"
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_COOKIE": str(self.root / "cookie"),
            "PULSE_RUNTIME_PATH": str(self.root / "runtime"),
            "PULSE_STATE_PATH": str(self.root / "state"),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] = {}

    def start(self, point_here: bool = True) -> None:
        """Start the daemon; with `point_here`, this process (and its children) use it."""
        for sub in ("runtime", "state", "home"):
            (self.root / sub).mkdir(mode=0o700)
        daemon_env = {
            **os.environ,
            **self.env,
            "XDG_RUNTIME_DIR": str(self.root / "runtime"),
            "HOME": str(self.root / "home"),  # where it would look for a cookie or config
        }
        daemon_env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no session bus: no device reservation
        cmd = [
            "pulseaudio",
            "-n",  # no default.pa: no hardware detection, no restore of saved defaults
            "--daemonize=no",
            "--use-pid-file=no",
            "--exit-idle-time=-1",
            "--realtime=no",
            "--high-priority=no",
            "--log-target=stderr",
            "-L",
            f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
            "-L",
            f"module-null-sink sink_name={SINK} rate={SINK_RATE} "
            f"sink_properties=device.description={SINK}",
        ]
        log = (self.root / "daemon.log").open("wb")
        self.proc = subprocess.Popen(
            cmd, env=daemon_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.socket.exists() and self.pactl("info").returncode == 0:
                if point_here:
                    self._point_here()
                return
            time.sleep(0.05)
        text = (self.root / "daemon.log").read_text(errors="replace").strip()
        self.stop()
        pytest.fail(f"cannot start a private PulseAudio: {text[-2000:]}")

    def pactl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pactl", *args], capture_output=True, text=True, timeout=30,
            env={**os.environ, **self.env},
        )  # fmt: skip

    def _point_here(self) -> None:
        """This process and its children talk to the private daemon only."""
        for key in _ENV_KEYS:
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = self.env[key]
        _reinitialise_portaudio()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._saved_env:
            self._saved_env = {}
            _reinitialise_portaudio()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _die_with_parent() -> None:
    """In the daemon's process before exec: SIGTERM when the test process dies, even by
    SIGKILL, so a killed test run leaves no daemon behind (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _reinitialise_portaudio() -> None:
    """PortAudio lists devices once; list again now that the server changed."""
    if "sounddevice" not in sys.modules:
        return
    sd = sys.modules["sounddevice"]
    with contextlib.suppress(Exception):
        sd._terminate()
        sd._initialize()


def start_pulse() -> PrivatePulse:
    """A private daemon, running, with this process pointed at it. Call .stop() when done
    (the `pulse_sink` fixture does at the end of the session; atexit does otherwise)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the PulseAudio null-sink device is set up on Linux only")
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.fail(
            "PulseAudio is missing: scripts/run-tests installs pulseaudio and "
            "pulseaudio-utils (run it as root, or apt-get install them)"
        )
    pulse = PrivatePulse()
    atexit.register(pulse.stop)
    pulse.start()
    return pulse


def only_48k(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the PulseAudio device behave like a sound card that runs at 48 kHz only, as most
    do. Through PulseAudio PortAudio accepts any rate (the server resamples), so the app's
    own resampling would never run: refuse every other rate where PortAudio is asked, and
    report 48000 as the device's rate. Streams then really open at 48 kHz, on a sink that
    runs at 48 kHz."""
    import sounddevice as sd

    def rate_checked(real):  # type: ignore[no-untyped-def]
        def check(*args, samplerate=None, **kwargs):  # type: ignore[no-untyped-def]
            if samplerate is not None and samplerate != SINK_RATE:
                raise sd.PortAudioError(f"Invalid sample rate {samplerate} [PaErrorCode -9997]")
            return real(*args, samplerate=samplerate, **kwargs)

        return check

    real_query = sd.query_devices

    def query_devices(device=None, kind=None):  # type: ignore[no-untyped-def]
        info = real_query(device, kind)
        return dict(info, default_samplerate=float(SINK_RATE)) if isinstance(info, dict) else info

    monkeypatch.setattr(sd, "check_input_settings", rate_checked(sd.check_input_settings))
    monkeypatch.setattr(sd, "check_output_settings", rate_checked(sd.check_output_settings))
    monkeypatch.setattr(sd, "query_devices", query_devices)


def play_into_sink(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["paplay", f"--device={SINK}", str(path)])


class Recording:
    """What the sink plays (its monitor), raw float32 mono at `rate`, written to a file as it
    comes (a pipe would fill up and stall parec). An idle null sink wakes up only every 2 s,
    so wait for `seconds()` to grow before relying on it."""

    def __init__(self, path: Path, rate: int = SINK_RATE) -> None:
        self.path, self.rate = path, rate
        with path.open("wb") as out:
            self.proc = subprocess.Popen(
                ["parec", f"--device={SINK}.monitor", "--format=float32le", "--channels=1",
                 f"--rate={rate}", "--raw", "--latency-msec=20"],
                stdout=out,
            )  # fmt: skip

    def seconds(self) -> float:
        """How much has been recorded so far."""
        return self.path.stat().st_size / 4 / self.rate

    def stop(self) -> np.ndarray:
        self.proc.terminate()
        self.proc.wait(10)
        data = self.path.read_bytes()
        return np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4")


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    """The strongest frequency in `x` (Hz), to a resolution of rate / len(x)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(spectrum.argmax())])


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
