"""Where things live: user folders (models, cache, runs) and bundled resources, frozen or not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "mgr-desktop"


def _user_dir(kind: str) -> Path:
    # MGR_DESKTOP_HOME moves everything (tests, portable installs).
    home = os.environ.get("MGR_DESKTOP_HOME")
    if home:
        return Path(home) / kind
    import platformdirs

    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP, appauthor=False))
    return Path(platformdirs.user_data_dir(APP, appauthor=False)) / kind


def cache_dir() -> Path:
    return _user_dir("cache")


def models_dir() -> Path:
    return _user_dir("models")


def runs_dir() -> Path:
    return _user_dir("runs")


def resource_path(*parts: str) -> Path:
    """A file under `resources/`, from a source checkout or a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    base = Path(frozen_root) if frozen_root else Path(__file__).resolve().parent.parent
    return base.joinpath("resources", *parts)
