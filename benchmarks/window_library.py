"""The window with a library: smoothness and memory while a batch of files is classified, and
how fast a long file shows.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.window_library [--files 1000] [--seconds 3]
    QT_QPA_PLATFORM=offscreen python -m benchmarks.window_library --long-minutes 120

Drives the real main window offscreen. The batch: N short wav files are generated (and kept
between runs), their folder is dropped on the window as a user would, and a small CNN model
classifies them; meanwhile a 20 ms QTimer in the GUI thread (the loop that playback and the
scrolling spectrogram share) records how late it fires. Reported: the timer's median, p99 and
max interval during the batch, the time until every row is finished, and the process's peak
RSS, against the bars of issue 11 (p99 <= 50 ms; peak RSS <= 1 GB with 10,000 files).

--long-minutes: a 44.1 kHz stereo 128 kbps mp3 that long is made with ffmpeg; dropped on the
window, it must show within a second. Reported: time to the first picture and to playback
being ready, the time to the picture at the playhead after a seek to the middle (played
through a stand-in output device in real time), the overview's total time, the GUI timer, and
the peak RSS above the idle window.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 20
BAR_P99_MS = 50.0
BAR_PEAK_MB = 1024.0
BAR_FIRST_PICTURE_S = 1.0


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def status_mb(key: str) -> float:
    """A field of /proc/self/status in MB (RssAnon: private memory; RssFile: mapped files,
    most of them shared libraries)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def reset_peak_rss() -> bool:
    """Linux: start VmHWM afresh from the current RSS (so a phase's peak can be read)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()


def make_files(folder: Path, n: int, seconds: float, sr: int = 22050) -> Path:
    """n short 16-bit wav files, tones + noise; kept between runs."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        p = folder / f"{i // 1000:02d}" / f"clip{i:05d}.wav"
        if p.exists():
            continue
        p.parent.mkdir(exist_ok=True)
        f0 = rng.uniform(80, 800)
        x = sum(0.15 / k * np.sin(2 * np.pi * f0 * k * t) for k in (1, 2, 3, 5))
        x = x + 0.03 * rng.standard_normal(len(t))
        sf.write(p, x.astype(np.float32), sr, subtype="PCM_16")
    return folder


def make_long_mp3(path: Path, minutes: float) -> Path:
    """A 44.1 kHz stereo 128 kbps mp3 of tones that change every minute, plus noise."""
    if path.exists():
        return path
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SystemExit("--long-minutes needs ffmpeg to make the file")
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = int(minutes * 60)
    tones = (
        f"aevalsrc=0.3*sin(2*PI*(220+40*mod(floor(t/60)\\,10))*t)"
        f"|0.3*sin(2*PI*(330+30*mod(floor(t/60)\\,7))*t):s=44100:d={seconds}"
    )
    tmp = path.with_suffix(".part.mp3")
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", tones, "-f", "lavfi",
         "-i", f"anoisesrc=a=0.03:r=44100:d={seconds}", "-filter_complex",
         "[0][1]amix=inputs=2:normalize=0", "-ac", "2", "-b:a", "128k", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.rename(path)
    return path


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def drop(window: object, paths: list[Path]) -> None:
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(40, 40), *rest))  # type: ignore[arg-type]
    QApplication.sendEvent(window, QDropEvent(QPointF(40, 40), *rest))  # type: ignore[arg-type]


def wait_for(cond: Callable[[], bool], limit: float) -> None:
    """Run the event loop (no sleeps in the GUI thread) until cond() holds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    t0 = time.monotonic()

    def check() -> None:
        if cond() or time.monotonic() - t0 > limit:
            loop.quit()

    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(50)
    if not cond():
        loop.exec()
    poll.stop()
    if not cond():
        raise TimeoutError("gave up waiting")


class GcWatch:
    """How long the cyclic garbage collector held the interpreter (and so the GUI thread)."""

    def __init__(self) -> None:
        import gc

        self.pauses: list[tuple[int, float]] = []  # generation, ms
        self._t0 = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((info["generation"], 1000 * (time.perf_counter() - self._t0)))

    def line(self) -> str:
        full = [ms for g, ms in self.pauses if g == 2]
        worst = max((ms for _, ms in self.pauses), default=0.0)
        return (
            f"garbage collector: {len(self.pauses)} runs, longest {worst:.0f} ms; "
            f"{len(full)} full, longest {max(full, default=0.0):.0f} ms"
        )


class Pulse:
    """The GUI thread's pulse: the intervals between ticks of a 20 ms timer."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.intervals: list[float] = []
        self.rss_max = 0.0
        self.anon_max = 0.0
        self._clock = QElapsedTimer()
        self._last: float | None = None
        self._ticks = 0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._clock.start()
        self.timer.start()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed() / 1e6
        if self._last is not None:
            self.intervals.append(now - self._last)
        self._last = now
        self._ticks += 1
        if self._ticks % 25 == 0:
            self.rss_max = max(self.rss_max, rss_mb())
            self.anon_max = max(self.anon_max, status_mb("RssAnon"))

    def take(self) -> list[float]:
        out, self.intervals = self.intervals, []
        return out

    @staticmethod
    def line(label: str, xs: list[float], bar: bool = False) -> str:
        p99 = percentile(xs, 99)
        verdict = f" -- bar p99 <= {BAR_P99_MS:.0f} ms: {'met' if p99 <= BAR_P99_MS else 'NOT met'}"
        return (
            f"GUI {TICK_MS} ms timer, {label}: median {statistics.median(xs):.1f} ms, "
            f"p99 {p99:.1f} ms, max {max(xs):.1f} ms ({len(xs)} ticks)" + (verdict if bar else "")
        )


def open_window(app: Any, with_model: bool) -> Any:
    home = Path(tempfile.mkdtemp(prefix="mgr-window-home-"))
    os.environ["MGR_DESKTOP_HOME"] = str(home)  # fresh settings, no remembered model
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.settings import Settings

    window = MainWindow(Settings(), default_model="")  # only the model named here, if any
    window.resize(1400, 800)
    window.show()
    wait_for(lambda: window.backend_ready and window.files.loader.ready, 120)
    if with_model:
        from tests.helpers import make_model_file

        model = make_model_file(home / "cnn.safetensors", "cnn")
        window.use_model(str(model))
        wait_for(lambda: window.engine is not None and window.engine.path == model, 120)
    return window


def idle(pulse: Pulse, seconds: float = 2.0) -> list[float]:
    pulse.take()
    t0 = time.monotonic()
    wait_for(lambda: time.monotonic() - t0 >= seconds, seconds + 10)
    return pulse.take()


def batch(app: Any, args: argparse.Namespace) -> None:
    from benchmarks.common import machine
    from mgr_desktop.gui.file_table import DONE, FAILED

    root = Path(tempfile.gettempdir()) / "mgr-bench"
    folder = make_files(root / f"library-{args.seconds:g}s-{args.files}", args.files, args.seconds)
    window = open_window(app, with_model=True)
    pulse = Pulse()
    quiet = idle(pulse)
    idle_rss, idle_anon, idle_file = rss_mb(), status_mb("RssAnon"), status_mb("RssFile")
    pulse.anon_max = 0.0
    gc_watch = GcWatch()

    rows = window.files.model.rows
    t0 = time.monotonic()
    drop(window, [folder])

    def finished() -> bool:
        return len(rows) >= args.files and all(r.status in (DONE, FAILED) for r in rows[-50:]) \
            and all(r.status in (DONE, FAILED) for r in rows)  # fmt: skip

    wait_for(finished, args.timeout)
    total = time.monotonic() - t0
    busy = pulse.take()
    pulse.timer.stop()
    failed = sum(r.status == FAILED for r in rows)
    peak = peak_rss_mb()
    end_rss = rss_mb()
    window.close()

    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    print(f"{args.files} files of {args.seconds:g} s (wav, 22050 Hz), cnn model, window 1400 px")
    print(f"all rows finished in {total:.1f} s ({args.files / total:.1f} files/s), {failed} failed")
    print(Pulse.line("idle", quiet))
    print(Pulse.line("during the batch", busy, bar=True))
    print(gc_watch.line())
    print(
        f"RSS: idle with model {idle_rss:.0f} MB, after the batch {end_rss:.0f} MB "
        f"(+{end_rss - idle_rss:.0f} MB), peak {peak:.0f} MB -- bar <= {BAR_PEAK_MB:.0f} MB: "
        f"{'met' if peak <= BAR_PEAK_MB else 'NOT met'}"
    )
    print(
        f"of which: mapped files (shared libraries) {idle_file:.0f} MB idle; private memory "
        f"{idle_anon:.0f} MB idle, {pulse.anon_max:.0f} MB at most during the batch (sampled)"
    )


def long_file(app: Any, args: argparse.Namespace) -> None:
    from benchmarks.common import machine
    from tests.gui.fake_audio import FakeSoundDevice

    root = Path(tempfile.gettempdir()) / "mgr-bench"
    path = make_long_mp3(root / f"long-{args.long_minutes:g}min.mp3", args.long_minutes)
    window = open_window(app, with_model=False)
    files = window.files
    files.player.backend = FakeSoundDevice(speed=1.0)  # a real-time stand-in (no device here)
    pulse = Pulse()
    quiet = idle(pulse)
    idle_rss = rss_mb()
    hwm = reset_peak_rss()
    gc_watch = GcWatch()
    events: dict[str, float] = {}
    pictures: list[Any] = []

    def on_picture(p: str, pic: Any) -> None:
        events.setdefault("picture", time.monotonic())
        pictures.append((time.monotonic(), pic.covered, pic.db.shape[1], pic.done))

    files.loader.picture.connect(on_picture)
    files.loader.opened.connect(lambda info: events.setdefault("opened", time.monotonic()))
    t0 = time.monotonic()
    drop(window, [path])
    wait_for(lambda: "picture" in events and files.player.loaded, 60)
    first = events["picture"] - t0
    ready = events["opened"] - t0
    files.toggle_play()
    t_play = time.monotonic()
    wait_for(lambda: time.monotonic() - t_play > 1.0, 10)
    middle = args.long_minutes * 30.0
    t_seek = time.monotonic()
    files.seek(middle)

    def window_there() -> bool:
        w, pos = files.playhead_window, files.player.position
        return w is not None and w[0] <= pos <= w[0] + w[1].shape[1] * files.frame_seconds

    wait_for(window_there, 30)
    to_window = time.monotonic() - t_seek
    played = files.player.position
    wait_for(lambda: bool(pictures) and pictures[-1][3], args.timeout)
    overview_s = pictures[-1][0] - t0
    busy = pulse.take()
    pulse.timer.stop()
    peak = vm_hwm_mb() if hwm else peak_rss_mb()
    files.stop()
    window.close()

    print(f"# {time.strftime('%Y-%m-%d')} - {machine()}")
    size = path.stat().st_size / 2**20
    print(f"{args.long_minutes:g}-minute mp3, 44.1 kHz stereo 128 kbps ({size:.0f} MB), no model")
    print(
        f"first picture {first * 1000:.0f} ms after the drop (covering "
        f"{pictures[0][1]:.0f} s), playback ready at {ready * 1000:.0f} ms -- bar <= "
        f"{BAR_FIRST_PICTURE_S:g} s: {'met' if first <= BAR_FIRST_PICTURE_S else 'NOT met'}"
    )
    print(
        f"seek to {middle:.0f} s while playing: picture at the playhead after "
        f"{to_window * 1000:.0f} ms (position {played:.1f} s)"
    )
    print(
        f"overview of the whole file done after {overview_s:.1f} s ({len(pictures)} updates, "
        f"{pictures[-1][2]} columns)"
    )
    print(Pulse.line("idle", quiet))
    print(Pulse.line("while it streams and plays", busy, bar=True))
    print(gc_watch.line())
    print(
        f"RSS: idle window {idle_rss:.0f} MB, peak while opening, playing and computing the "
        f"overview {peak:.0f} MB (+{peak - idle_rss:.0f} MB)"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each generated file")
    ap.add_argument("--long-minutes", type=float, default=0.0, help="measure a long file instead")
    ap.add_argument("--timeout", type=float, default=7200.0, help="give up after this (s)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.long_minutes > 0:
        long_file(app, args)
    else:
        batch(app, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
