"""Help > About: versions, the active model's card, and the licences of what ships inside.

Versions are read from the installed packages' metadata, so opening the dialog never imports
torch; the model card is the model file's own metadata (its training summary)."""

from __future__ import annotations

import html
import platform
from importlib import metadata
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from mgr_desktop import __version__
from mgr_desktop.paths import resource_path

PACKAGES = ("torch", "PySide6", "pyqtgraph", "numpy", "av", "soundfile", "mutagen")
LICENCES = (
    ("mgr-desktop", "MIT"),
    ("musicnn weights (Pons & Serra 2019)", "ISC, pretrained/LICENSE-musicnn.txt"),
    ("fault-filtered GTZAN split (Kereliuk et al. 2015; lists by Jongpil Lee)",
     "MIT, splits/fault-filtered/LICENSE"),
    ("self-test audio", "audio/LICENSE.md"),
)  # fmt: skip


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def model_card(info: Any) -> list[str]:
    """A few lines from a model's metadata: name, genres, "none of its genres", figures."""
    if info is None:
        return ["No model is active."]
    t = info.training or {}
    lines = [f"{info.name or info.arch} ({info.arch})",
             f"Genres: {', '.join(info.genres)}"]  # fmt: skip
    if info.outside:
        lines.append(f'Says "none of its genres" (its label "{info.outside}")')
    figures = {
        "real_music_dev_in_accuracy": "real music, right genre (5 folds by artist)",
        "real_music_dev_in_confident_wrong": "real music, confident and wrong",
        "gtzan_valid_acc": "GTZAN valid, per track",
        "valid_track_accuracy": "validation, per track",
        "test_track_accuracy": "test, per track",
    }
    for key, what in figures.items():
        if isinstance(t.get(key), (int, float)):
            lines.append(f"{what}: {t[key]:.3f}")
    return lines


def about_text(info: Any) -> str:
    versions = ", ".join(f"{p} {_version(p)}" for p in PACKAGES)
    rows = [
        f"<h3>mgr-desktop {html.escape(__version__)}</h3>",
        "<p>Music genre recognition on the desktop.</p>",
        f"<p>Python {platform.python_version()}; {html.escape(versions)}</p>",
        "<p><b>Active model</b><br>"
        + "<br>".join(html.escape(x) for x in model_card(info))
        + "</p>",
        "<p><b>Licences</b><br>"
        + "<br>".join(f"{html.escape(a)}: {html.escape(b)}" for a, b in LICENCES)
        + f"<br>(in {html.escape(str(resource_path()))})</p>",
    ]
    return "\n".join(rows)


def show_about(parent: QWidget, info: Any) -> None:
    QMessageBox.about(parent, "About mgr-desktop", about_text(info))
