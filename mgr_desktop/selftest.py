"""`mgr-desktop --self-test`: prove an install works, offline, in a few seconds.

Imports everything, decodes the bundled clip, computes the log-mel, runs each architecture
(freshly initialised) on it, opens and closes the main window offscreen, and prints one line.
Used on source installs and on the frozen app (packaging/check_frozen.sh).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import tempfile
import time
from collections.abc import Callable


def run_self_test() -> int:
    t0 = time.perf_counter()
    results: list[tuple[str, bool, str]] = []

    def check(name: str, fn: Callable[[], str]) -> None:
        try:
            results.append((name, True, fn() or ""))
        except BaseException as e:  # report every failure, keep going
            results.append((name, False, f"{type(e).__name__}: {e}"))

    # Keep the user's settings, models and cache out of it; show no window on screen.
    os.environ["MGR_DESKTOP_HOME"] = tempfile.mkdtemp(prefix="mgr-selftest-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    state: dict[str, object] = {}
    check("imports", _imports)
    check("portaudio", _portaudio)
    check("decode", lambda: _decode(state))
    check("containers", _containers)
    check("mel", lambda: _mel(state))
    from mgr_desktop.models.registry import ARCHITECTURES

    for arch in ARCHITECTURES:
        check(arch, lambda a=arch: _model(a, state))
    check("default model", lambda: _default_model(state))
    check("window", _window)
    ok = all(passed for _, passed, _ in results)
    from mgr_desktop import __version__

    parts = [f"{name}{' ' + detail if detail else ''}" for name, passed, detail in results
             if passed]  # fmt: skip
    failed = [f"{name} FAILED ({detail})" for name, passed, detail in results if not passed]
    print(
        f"mgr-desktop {__version__} self-test: {'ok' if ok else 'FAILED'} in "
        f"{time.perf_counter() - t0:.1f} s — " + "; ".join(failed + parts),
        flush=True,
    )
    return 0 if ok else 1


def _imports() -> str:
    import mgr_desktop

    count = 0
    for mod in pkgutil.walk_packages(mgr_desktop.__path__, "mgr_desktop."):
        if mod.name.endswith("__main__"):  # importing it would run the CLI
            continue
        importlib.import_module(mod.name)
        count += 1
    for name in (
        "torch",
        "torchvision",
        "PySide6.QtWidgets",
        "pyqtgraph",
        "soundfile",
        "soxr",
        "safetensors",
    ):
        importlib.import_module(name)
    import torch

    return f"({count} modules; torch {torch.__version__})"


def _portaudio() -> str:
    import sounddevice

    return f"({sounddevice.get_portaudio_version()[1]}; {sounddevice._libname})"


def _decode(state: dict[str, object]) -> str:
    from mgr_desktop.audio.decode import decode_file
    from mgr_desktop.paths import resource_path

    audio = decode_file(resource_path("audio", "selftest.flac"))
    state["wave"] = audio.samples
    return f"({audio.duration:.1f} s flac)"


def _containers() -> str:
    """m4a and webm through the bundled FFmpeg (PyAV), with no ffmpeg on the machine."""
    from mgr_desktop.audio.decode import decode_self_check

    return decode_self_check()


def _mel(state: dict[str, object]) -> str:
    import torch

    from mgr_desktop.config import FeatureConfig
    from mgr_desktop.dsp.mel import LogMel

    db = LogMel(FeatureConfig())(torch.from_numpy(state["wave"]))  # type: ignore[arg-type]
    if not torch.isfinite(db).all():
        raise ValueError("non-finite log-mel")
    state["db"] = db
    return f"({db.shape[0]}x{db.shape[1]})"


def _model(arch: str, state: dict[str, object]) -> str:
    import torch

    from mgr_desktop.config import GTZAN_GENRES
    from mgr_desktop.dsp.mel import LogMel, cut_segments, normalise
    from mgr_desktop.inference.engine import optimise_for_inference
    from mgr_desktop.models.registry import build_model, get_architecture

    cfg = get_architecture(arch).features  # each architecture's own front end
    model = optimise_for_inference(build_model(arch, len(GTZAN_GENRES)).eval(), torch.device("cpu"))
    feats = LogMel(cfg)(torch.from_numpy(state["wave"]))  # type: ignore[arg-type]
    windows, _ = cut_segments(feats, cfg, 1.5)
    x = normalise(windows, cfg).unsqueeze(1).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        probs = torch.softmax(model(x), -1)
    if probs.shape != (len(windows), len(GTZAN_GENRES)) or not torch.allclose(
            probs.sum(-1), torch.ones(len(windows)), atol=1e-4):  # fmt: skip
        raise ValueError(f"bad output {tuple(probs.shape)}")
    return ""


def _default_model(state: dict[str, object]) -> str:
    """The shipped model loads from the bundle and gives a finite verdict, offline."""
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.paths import default_model_path, resource_path

    engine = Engine.from_file(default_model_path(), "cpu")
    result = engine.classify_file(resource_path("audio", "selftest.flac"))
    if result.genre is None or not 0 < result.confidence <= 1:
        raise ValueError(f"no verdict ({result.note or result.confidence})")
    return f"({engine.info.arch}: {result.genre} {result.confidence:.0%})"


def _window() -> str:
    from PySide6.QtWidgets import QApplication

    from mgr_desktop.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    app.processEvents()
    visible = window.isVisible()
    window.close()
    if not visible:
        raise RuntimeError("the window did not show")
    return f"({QApplication.platformName()})"  # static: instance() is typed QCoreApplication
